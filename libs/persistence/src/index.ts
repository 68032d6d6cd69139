export * from './data-source';
export * from './naming-strategy';
export * from './persistence.module';
