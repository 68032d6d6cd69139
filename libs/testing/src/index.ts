export * from './test-env';
export * from './oci-registry';
export * from './http-routes';
export * from './tcp-proxy';
export * from './ports';
export * from './broker-cleanup';
export * from './service-process';
