export * from './reference';
export * from './registry-client';
export * from './image-resolve';
export * from './rootfs';
export * from './image-build';
export * from './registry-settings';
