export * from './bootstrap';
export * from './health';
export * from './internal-routes';
