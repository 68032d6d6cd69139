/** The function SDK for Node.js (see index.js). */
export interface InvocationContext {
  invocationId: string;
  functionId?: string;
  functionName?: string;
  functionVersion?: number;
  memoryLimitInMB?: number;
  /** Epoch ms at which the invocation times out. */
  deadline: number;
  getRemainingTimeInMillis(): number;
}
export declare function getSecret(name: string): string;
export declare function invocationId(): string | undefined;
export declare function remainingTimeMs(): number | undefined;
export declare function context(): InvocationContext | undefined;
export declare const logger: {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
};
