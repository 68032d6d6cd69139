/** Injection token of the validated settings. */
export const SETTINGS = Symbol('SETTINGS');
