export * from './test-env';
export * from './oci-registry';
