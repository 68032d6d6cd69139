export * from './build';
export * from './shims';
export * from './sandbox/bwrap';
export * from './sandbox/cgroups';
export * from './worker/log-buffer';
export * from './worker/process-tree';
export * from './worker/worker-process';
export * from './local/run-locally';
