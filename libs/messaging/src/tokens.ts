/** Name of the running service (e.g. "invoker"); used for queue names, spools and event sources. */
export const SERVICE_NAME = Symbol('SERVICE_NAME');
