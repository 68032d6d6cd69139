export * from './event';
export * from './event-rpc.dto';
export * from './event-types';
export * from './cloudevent';
export * from './posted-event';
