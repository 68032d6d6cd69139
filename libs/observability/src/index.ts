export * from './bootstrap';
export * from './health';
export * from './internal-routes';
export * from './in-process-http';
export * from './run-main';
export * from './metrics/service-metrics';
export * from './metrics/metrics.module';
export * from './logging/log-context';
export { PlatformLogger, serviceLogLevel, serviceLevelSetting } from './logging/platform-logger';
