export * from './bootstrap';
export * from './health';
export * from './internal-routes';
export * from './in-process-http';
export * from './run-main';
