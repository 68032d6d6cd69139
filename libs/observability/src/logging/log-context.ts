import { AsyncLocalStorage } from 'async_hooks';

/** What every log line written while handling something adds about it: which service, which invocation. */
export interface LogContext {
  service?: string;
  invocationId?: string;
  /** Of the invocation's trace, for the lines written outside its span's async context. */
  traceId?: string;
}

const storage = new AsyncLocalStorage<LogContext>();

/**
 * The service and invocation a log line belongs to, carried through async calls. In one process (six services), a
 * service's start runs inside its context, so its servers, broker and Redis connections and timers, created there,
 * keep it: each line names the service that wrote it, not the last one started.
 */
export const LogContexts = {
  current(): LogContext | undefined {
    return storage.getStore();
  },
  /** Runs `fn` with `ctx` added to the current context. */
  run<T>(ctx: LogContext, fn: () => T): T {
    return storage.run({ ...storage.getStore(), ...ctx }, fn);
  },
  /**
   * Adds fields to the current context in place: for the code that made that context for one piece of work (an
   * invocation learns its id after its run started), never for one shared by others.
   */
  set(fields: LogContext): void {
    const ctx = storage.getStore();
    if (ctx) Object.assign(ctx, fields);
  },
  /** Wraps `fn` so it always runs in the context current now (a handler called later from another service's code). */
  bind<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
    const ctx = storage.getStore();
    if (!ctx) return fn;
    return (...args: A) => storage.run(ctx, () => fn(...args));
  },
};
