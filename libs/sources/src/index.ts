export * from './types';
export * from './fields';
export * from './delivery';
export * from './cloudevent';
export * from './registry';
export { cronProblem, isTimeZone } from './schedule';
export * from './message';
export * from './s3/notification';
