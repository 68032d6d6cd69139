export * from './event';
export * from './event-rpc.dto';
