export * from './test-env';
export * from './oci-registry';
export * from './tcp-proxy';
