import { ChildProcess, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import type { Socket } from 'net';
import type { RuntimeFamily } from '@platform/contracts';
import { runtimeCommand, SANDBOX_BASE_ENV, SANDBOX_CODE_DIR } from '../sandbox/bwrap';
import type { WorkerCgroup } from '../sandbox/cgroups';
import { SandboxNetwork } from '../sandbox/slirp';
import { workerProtocol as P } from '../shims';
import { LogBuffer } from './log-buffer';
import { spawnSandboxed } from './sandbox-spawn';
import { reprioritize } from './process-tree';
import { HandlerError, InvocationReply, LoadSpec, WorkerExit, WorkerExitedError, WorkerLoadError, WorkerStartOptions } from './worker-types';

interface Pending {
  resolve: (reply: InvocationReply) => void;
  reject: (err: Error) => void;
  logs: LogBuffer;
}

const BEFORE_LOAD_FRAME_LIMIT = 1024 * 1024;
/** Room for headers and metadata on top of the largest response body. */
const FRAME_OVERHEAD = 1024 * 1024;

/**
 * One runtime process (node or python shim) in its sandbox, spoken to over the frame protocol on a
 * socket pair. Generic until `load()`; then serves `invoke()` calls, several at once when the function's
 * concurrency allows. A worker never outlives its invoker (bwrap --die-with-parent).
 */
export class WorkerProcess {
  readonly id: string;
  readonly family: RuntimeFamily;
  readonly egress: boolean;
  readonly sandboxed: boolean;
  readonly cgroup?: WorkerCgroup;
  /** The sandbox's first process, as a host pid (the root of the worker's process tree). */
  sandboxPid?: number;
  /** Output the runtime wrote straight to fds 1/2 while no single invocation could own it. */
  onStrayOutput?: (text: string) => void;
  readonly exited: Promise<WorkerExit>;
  loaded = false;
  /** How many invocations the loaded function runs at once, as its shim said (it knows whether the handler is async). */
  concurrency?: number;

  private readonly child: ChildProcess;
  /** A worker with egress: its slirp4netns. `networkUp` resolves once the function may use the network. */
  private network?: SandboxNetwork;
  private readonly networkUp: Promise<void>;
  private networkSettled?: { resolve: () => void; reject: (err: Error) => void };
  private readonly socket: Socket;
  private readonly reader: { push(chunk: Buffer): void; maxFrameBytes?: number };
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  /** The niceness the worker's threads run at (what it started with, then what setNiceness set). */
  private niceness: number;
  private outbox: Buffer[] = [];
  private exit?: WorkerExit;
  private protocolProblem?: string;
  private hello?: { resolve: () => void; reject: (err: Error) => void };
  private loading?: { resolve: (ms: number) => void; reject: (err: Error) => void };
  private resolveExited!: (exit: WorkerExit) => void;

  private constructor(private readonly o: WorkerStartOptions) {
    this.id = o.id ?? randomBytes(6).toString('hex');
    this.family = o.family;
    this.egress = o.egress;
    this.sandboxed = o.sandbox !== null;
    this.cgroup = o.cgroup;
    this.niceness = o.niceness ?? 0;
    this.exited = new Promise((r) => (this.resolveExited = r));
    this.networkUp = this.egress && this.sandboxed ? new Promise((resolve, reject) => (this.networkSettled = { resolve, reject })) : Promise.resolve();
    this.networkUp.catch(() => undefined);
    this.child = this.spawn();
    this.socket = this.child.stdio[3] as Socket;
    this.reader = new P.FrameReader(BEFORE_LOAD_FRAME_LIMIT, (type, id, body) => this.onFrame(type, id, body));
    this.socket.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk);
      } catch (err) {
        this.violation(`worker broke the protocol: ${(err as Error).message}`);
      }
    });
    this.socket.on('error', () => undefined);
    for (const stream of [this.child.stdout, this.child.stderr]) stream?.on('data', (c: Buffer) => this.onRawOutput(c));
    this.child.on('error', (err) => this.finish({ code: null, signal: null }, `could not start the worker: ${err.message}`));
    this.child.on('exit', (code, signal) => {
      // 'close' comes once the pipes are drained (last frames read); do not wait for it forever.
      setTimeout(() => this.finish({ code, signal }), 500).unref();
    });
    this.child.on('close', (code, signal) => this.finish({ code, signal }));
  }

  /**
   * Starts a worker; resolves once its shim said HELLO (the runtime is up and waits for a function) and,
   * with egress, its network is up: nothing of the function runs before that.
   */
  static async start(o: WorkerStartOptions): Promise<WorkerProcess> {
    const egress = o.sandbox?.egress;
    if (o.egress && o.sandbox && (!egress || 'unavailable' in egress))
      throw new Error(egress && 'unavailable' in egress ? egress.unavailable : 'network egress is not set up for this sandbox');
    const worker = new WorkerProcess(o);
    const timeoutMs = o.startTimeoutMs ?? 15_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the ${o.family} worker did not start within ${timeoutMs} ms`)), timeoutMs);
    });
    const hello = new Promise<void>((resolve, reject) => (worker.hello = { resolve, reject }));
    try {
      await Promise.race([Promise.all([hello, worker.networkUp]), timedOut]);
    } catch (err) {
      worker.kill();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return worker;
  }

  get inflight(): number {
    return this.pending.size;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  private spawn(): ChildProcess {
    const o = this.o;
    if (!o.sandbox) {
      const cmd = runtimeCommand(o.family, o.runtimeBin, o.shimRoot, 'worker');
      return spawn(cmd[0], cmd.slice(1), {
        cwd: o.codeDir,
        env: {
          ...SANDBOX_BASE_ENV,
          PATH: process.env.PATH ?? SANDBOX_BASE_ENV.PATH,
          HOME: process.env.HOME ?? '/tmp',
          ...(o.debugDir ? { HKS_DEBUG_DIR: o.debugDir } : {}),
        },
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      });
    }
    // The sandbox's first process joins the worker's cgroups before the runtime (let alone the function)
    // runs, so every byte and process of the worker is accounted for.
    return spawnSandboxed({ ...o, sandbox: o.sandbox }, (pid) => {
      this.sandboxPid = pid;
      try {
        this.o.cgroup?.attach(pid);
        if (this.niceness) reprioritize(pid, this.niceness);
      } catch (err) {
        const problem = `could not put the worker in its cgroup: ${(err as Error).message}`;
        this.kill();
        this.finish({ code: null, signal: null }, problem);
        return false;
      }
      // The runtime starts meanwhile (trusted code); the function is loaded only once the network is up.
      const egress = this.o.sandbox?.egress;
      if (this.networkSettled && egress && !('unavailable' in egress) && !this.exit) {
        const settled = this.networkSettled;
        this.network = new SandboxNetwork(egress, pid);
        this.network.ready.then(settled.resolve, (err: Error) => settled.reject(new Error(`the worker's network could not be set up: ${err.message}`)));
      }
      return true;
    });
  }

  /** Loads the function; resolves with how long the runtime took to load it. */
  load(spec: LoadSpec, timeoutMs = 30_000): Promise<number> {
    if (!this.alive) return Promise.reject(new WorkerLoadError('the worker is no longer running'));
    if (this.loaded || this.loading) return Promise.reject(new WorkerLoadError('this worker already runs a function'));
    this.reader.maxFrameBytes = (spec.maxResponseBytes ?? 6 * 1024 * 1024) + FRAME_OVERHEAD;
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.loading = undefined;
        this.kill();
        reject(new WorkerLoadError(`loading the function took longer than ${timeoutMs} ms (does its module run code that never ends?)`));
      }, timeoutMs);
      this.loading = {
        resolve: (ms) => (clearTimeout(timer), (this.loaded = true), resolve(ms)),
        reject: (err) => (clearTimeout(timer), reject(err)),
      };
      this.write(P.encodeJson(P.Frame.LOAD, 0, { ...spec, codeDir: this.sandboxed ? SANDBOX_CODE_DIR : this.o.codeDir }));
    });
  }

  /**
   * Runs one invocation. Resolves with the handler's response or its error; rejects with
   * WorkerExitedError when the worker dies first (crash, OOM kill, timeout kill). `inputJson`, when given, is
   * JSON.stringify(input).
   */
  invoke(input: unknown, ctx: { invocationId: string; deadline: number; traceparent?: string }, inputJson?: string): Promise<InvocationReply> {
    if (!this.alive) return Promise.reject(new WorkerExitedError(this.exit!, '', this.protocolProblem));
    this.seq = this.seq >= 0xfffffffe ? 1 : this.seq + 1;
    const id = this.seq;
    return new Promise<InvocationReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, logs: new LogBuffer() });
      // `inputJson`: the input already serialized (by a caller that needed its size), not serialized twice.
      if (inputJson === undefined) this.write(P.encodeJson(P.Frame.INVOKE, id, { input, ctx }));
      else this.write(P.encode(P.Frame.INVOKE, id, Buffer.from(`{"input":${inputJson},"ctx":${JSON.stringify(ctx)}}`)));
    });
  }

  /**
   * Lets the scheduler treat the worker like any other process again (see reprioritize). Nothing to do,
   * and no walk of its process tree, when the worker already runs at that niceness.
   */
  setNiceness(niceness: number): void {
    if (niceness === this.niceness) return;
    this.niceness = niceness;
    if (this.sandboxPid !== undefined && this.alive) reprioritize(this.sandboxPid, niceness);
  }

  /** SIGKILL to the whole sandbox; `exited` resolves once it is gone. */
  kill(): void {
    if (this.exit) return;
    if (this.sandboxPid !== undefined) {
      try {
        // Killing the sandbox's first process tears down its pid namespace: every process in it dies.
        process.kill(this.sandboxPid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    this.child.kill('SIGKILL');
    this.cgroup?.killAll();
    this.network?.stop();
  }

  /**
   * Frames written in one turn of the event loop leave in one writev: under load, many invocations
   * share one system call (and one wake-up of the worker).
   */
  private write(frames: Buffer[]): void {
    if (this.outbox.length === 0) setImmediate(this.flushOutbox);
    for (const f of frames) this.outbox.push(f);
  }

  private readonly flushOutbox = (): void => {
    const out = this.outbox;
    this.outbox = [];
    if (this.socket.destroyed) return;
    if (out.length === 1) return void this.socket.write(out[0]);
    this.socket.cork();
    for (const f of out) this.socket.write(f);
    this.socket.uncork();
  };

  private onFrame(type: number, id: number, body: Buffer): void {
    const F = P.Frame;
    try {
      switch (type) {
        case F.HELLO:
          this.hello?.resolve();
          this.hello = undefined;
          return;
        case F.LOADED: {
          const loading = this.loading;
          this.loading = undefined;
          const reply = JSON.parse(body.toString('utf8')) as { ms?: unknown; concurrency?: unknown };
          if (Number.isInteger(reply.concurrency) && (reply.concurrency as number) >= 1) this.concurrency = reply.concurrency as number;
          loading?.resolve(Number(reply.ms) || 0);
          return;
        }
        case F.LOAD_ERROR: {
          const loading = this.loading;
          this.loading = undefined;
          const e = JSON.parse(body.toString('utf8')) as HandlerError;
          loading?.reject(new WorkerLoadError(e.message));
          return;
        }
        case F.RESULT: {
          const p = this.take(id);
          if (!p) return;
          const { meta, body: payload } = P.decodeResult(body);
          p.resolve({ ok: true, statusCode: meta.statusCode, headers: meta.headers ?? {}, body: payload, json: meta.json === true, logs: p.logs.toString() });
          return;
        }
        case F.ERROR: {
          const p = this.take(id);
          if (!p) return;
          const e = JSON.parse(body.toString('utf8')) as HandlerError;
          p.resolve({
            ok: false,
            error: { name: String(e.name ?? 'Error'), message: String(e.message ?? ''), stack: e.stack, code: e.code },
            logs: p.logs.toString(),
          });
          return;
        }
        case F.LOG: {
          const text = body.toString('utf8', 1);
          if (id === 0) this.onStrayOutput?.(text);
          else this.pending.get(id)?.logs.append(text);
          return;
        }
        default:
          this.violation(`worker sent an unknown frame type ${type}`);
      }
    } catch (err) {
      this.violation(`worker sent an unreadable frame: ${(err as Error).message}`);
    }
  }

  private take(id: number): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    return p;
  }

  /** Output on the worker's own fds: a child process of the handler, or the runtime itself. */
  private onRawOutput(chunk: Buffer): void {
    const text = chunk.toString('utf8');
    if (this.pending.size === 1) this.pending.values().next().value!.logs.append(text);
    else this.onStrayOutput?.(text);
  }

  /** A worker that breaks the protocol is not trusted with anything else: it is killed. */
  private violation(problem: string): void {
    this.protocolProblem ??= problem;
    this.kill();
  }

  private finish(exit: WorkerExit, problem?: string): void {
    if (this.exit) return;
    if (problem) this.protocolProblem ??= problem;
    this.exit = exit;
    const err = (logs: string) => new WorkerExitedError(exit, logs, this.protocolProblem);
    this.hello?.reject(new Error(this.protocolProblem ?? `the ${this.family} worker exited while starting (${exit.signal ?? `code ${exit.code}`})`));
    this.hello = undefined;
    this.loading?.reject(new WorkerLoadError(this.protocolProblem ?? `the worker exited while loading the function (${exit.signal ?? `code ${exit.code}`})`));
    this.loading = undefined;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(err(p.logs.toString()));
    }
    this.socket.destroy();
    this.networkSettled?.reject(new Error(this.protocolProblem ?? `the worker exited before its network was up (${exit.signal ?? `code ${exit.code}`})`));
    // slirp4netns goes with its sandbox: `exited` means both are gone.
    const network = this.network;
    if (!network) return this.resolveExited(exit);
    network.stop();
    void network.exited.then(() => this.resolveExited(exit));
  }
}
