import type { RuntimeFamily } from '@platform/contracts';
import type { WorkerCgroup } from '../sandbox/cgroups';
import type { EgressNetwork } from '../sandbox/slirp';

export interface SandboxOptions {
  bwrapPath: string;
  /** uid/gid inside the sandbox. */
  uid: number;
  gid: number;
  /** uid/gid bwrap itself runs as (an invoker running as root drops to an unprivileged user here). */
  runAs?: { uid: number; gid: number };
  /**
   * How a worker with egress gets its network (slirp4netns), or why it cannot: such a worker then
   * fails to start with that message, it never shares the host's network.
   */
  egress?: EgressNetwork | { unavailable: string };
}

export interface WorkerStartOptions {
  family: RuntimeFamily;
  /** Host directory of the function's code (bound read-only at /code in a sandbox). */
  codeDir: string;
  /** Host directory holding the shims. */
  shimRoot: string;
  /** An image's unpacked rootfs: the sandbox's / (see SandboxLayout.rootfs). */
  rootfs?: string;
  runtimeBin: string;
  /** Where the runtime's prefix (runtimeBin's ../..) is bound from, when not from itself (SandboxLayout.runtimePrefixSource). */
  runtimePrefixSource?: string;
  egress: boolean;
  /** bubblewrap settings; null runs the shim as a plain child process (when bwrap is not installed). */
  sandbox: SandboxOptions | null;
  /** The sandbox's first process joins it before anything else runs in the sandbox. */
  cgroup?: WorkerCgroup;
  /** Scheduling niceness the worker starts with (prewarmed workers start low). */
  niceness?: number;
  startTimeoutMs?: number;
  id?: string;
  /** A debug worker: its inspector is relayed to a unix socket in this host folder (SandboxLayout.debugDir). */
  debugDir?: string;
}

/** What a worker needs to load its function (LOAD frame). */
export interface LoadSpec {
  entrypoint: string;
  env: Record<string, string>;
  /** The function's secret references (config.secrets): the SDK's getSecret(name) reads the variable `env` of `secret`. */
  secrets?: Array<{ env: string; secret: string; key: string }>;
  functionId?: string;
  label?: string;
  version?: number;
  memoryMb?: number;
  timeoutMs?: number;
  maxResponseBytes?: number;
  concurrency?: number;
  /** Python: what an `async def` handler takes at once instead of `concurrency` (the function left concurrency to the runtime). */
  asyncConcurrency?: number;
  /** A function that is its own HTTP server (custom, image): its argv when not the entry point's words (an image's Entrypoint + Cmd). */
  command?: string[];
  /** ... and its working directory, when not the code's. */
  workingDir?: string;
  /** How long its process may take to listen on $PORT. */
  readyTimeoutMs?: number;
}

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface HandlerError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

export type InvocationReply =
  | { ok: true; statusCode: number; headers: Record<string, string | string[]>; body: Buffer; json: boolean; logs: string }
  | { ok: false; error: HandlerError; logs: string };

/** The worker died (or was killed) while an invocation was in flight. */
export class WorkerExitedError extends Error {
  constructor(
    readonly exit: WorkerExit,
    readonly logs: string,
    readonly protocolProblem?: string,
  ) {
    super(protocolProblem ?? `worker exited (${exit.signal ?? `code ${exit.code}`})`);
  }
}

/** The function could not be loaded (missing module, syntax error, handler not exported ...). */
export class WorkerLoadError extends Error {
  constructor(
    message: string,
    readonly logs = '',
  ) {
    super(message);
  }
}
