export * from './settings';
export * from './settings.module';
export * from './internal-token';
export * from './redis-url';
