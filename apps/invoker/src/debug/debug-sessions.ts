import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'crypto';
import { DebugSessionView, debugSocketPath, DomainError, NotFoundError, StateError, ValidationError } from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { DeploymentTable } from '../deployments/deployment-table';
import { FunctionPool, PoolSpec } from '../pools/function-pool';
import type { InvokerSettingsValues } from '../settings';
import { LaunchFailure, WorkerLauncher } from '../workers/worker-launcher';
import { WorkDirs } from '../workers/work-dirs';
import { InspectorTarget, readInspectorTarget } from './inspector-target';

/** setTimeout's largest delay (about 24.8 days): what "no time limit" is for a debug worker's invocations. */
export const NO_TIME_LIMIT_MS = 2_147_483_647;
/** The inspector and its relay thread take memory of their own: the debug worker gets this much on top of the function's limit. */
const INSPECTOR_HEADROOM_MB = 64;
const MAX_SESSIONS = 4;
const SWEEP_MS = 2_000;

export interface DebugSession {
  id: string;
  functionId: string;
  label: string;
  /** The API key that opened it: the only one its websocket is forwarded to. */
  owner: string;
  /** The pool serving the function when the session opened: a redeploy (another pool) ends the session. */
  source: FunctionPool;
  pool: FunctionPool;
  dir: string;
  /** The inspector's websocket path (its target id), as the shim wrote it, checked (readInspectorTarget). */
  inspectorPath: string;
  view: DebugSessionView;
  /** Debuggers connected now. */
  connections: number;
  lastActive: number;
  openedAt: number;
}

/**
 * Debug sessions of locally deployed Node functions: each has a worker of its own (a pool of one, started fresh with
 * its inspector relayed to a unix socket in its folder: inspector-relay.js in the node shim), which serves only the
 * invocations that carry the session's id (x-debug-session), so stopping at a breakpoint never holds up the
 * function's other callers. Its invocations have no time limit. A session ends on DELETE, after
 * INVOKER_DEBUG_IDLE_MS with no debugger connected and no invocation, INVOKER_DEBUG_MAX_MS after it opened whatever
 * it is doing (an invocation held at a breakpoint forever included), when its function is redeployed or removed, and
 * at shutdown.
 */
@Injectable()
export class DebugSessions implements OnApplicationShutdown {
  private readonly logger = new Logger(DebugSessions.name);
  private readonly sessions = new Map<string, DebugSession>();
  private readonly idleMs: number;
  private readonly maxMs: number;
  /** Sessions being opened (their worker starting): they count against MAX_SESSIONS too. */
  private pending = 0;
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly table: DeploymentTable,
    private readonly launcher: WorkerLauncher,
    private readonly dirs: WorkDirs,
    @Inject(SETTINGS) settings: InvokerSettingsValues,
  ) {
    this.idleMs = settings.INVOKER_DEBUG_IDLE_MS;
    this.maxMs = settings.INVOKER_DEBUG_MAX_MS;
  }

  get(id: string): DebugSession | undefined {
    return this.sessions.get(id);
  }

  /**
   * The session, for an invocation of `functionId` that names it (x-debug-session) on behalf of `owner` (the key id
   * the gateway passes, x-hks-debug-owner); 404 when no such session is open for that function and key.
   */
  forInvocation(sessionId: string, functionId: string, owner: string | undefined): DebugSession {
    const s = this.sessions.get(sessionId);
    if (!s || s.functionId !== functionId || !owner || s.owner !== owner) {
      throw new NotFoundError(`no debug session ${sessionId} is open for function ${functionId} and this API key (x-debug-session)`);
    }
    s.lastActive = Date.now();
    return s;
  }

  async open(idOrLabel: string, owner: string): Promise<DebugSessionView> {
    if (!owner) throw new ValidationError('the debug session needs its owner (the API key id, x-hks-debug-owner)');
    const deployed = this.table.find(idOrLabel) ?? (await this.table.resolve(idOrLabel));
    const { spec } = deployed.order;
    const source = deployed.pool;
    if (!source) throw new StateError(`function ${spec.label} runs on Knative: a debugger attaches only to the local invoker's workers`);
    const family = source.spec.family;
    if (family === 'python') {
      throw new ValidationError(
        `function ${spec.label} is a Python function: debugging it needs debugpy, which this invoker does not have (Debian ships no package of it); only Node functions can be debugged here`,
      );
    }
    if (family !== 'node')
      throw new ValidationError(`function ${spec.label} runs on ${family}: only Node functions can be debugged (through the Node inspector)`);
    if (source.spec.image) throw new ValidationError(`function ${spec.label} runs from its own image: only Node functions built from source can be debugged`);
    // Those still starting count too: concurrent opens must not get past the maximum while their workers start.
    if (this.sessions.size + this.pending >= MAX_SESSIONS) {
      throw new DomainError(429, `this invoker already runs ${MAX_SESSIONS} debug sessions, its maximum; end one (DELETE) first`);
    }
    const id = randomBytes(16).toString('hex');
    this.pending++;
    let pool: FunctionPool;
    let dir: string;
    let target: InspectorTarget;
    try {
      dir = this.dirs.debugDir(id);
      pool = new FunctionPool(debugSpec(source.spec, dir, this.idleMs), this.launcher, this.logger);
      try {
        await pool.start();
      } catch (err) {
        pool.close();
        this.dirs.removeDebugDir(id);
        const e = err as LaunchFailure;
        throw new DomainError(e.kind === 'capacity' ? 503 : 502, `could not start the debug worker of function ${spec.label}: ${e.message}`);
      }
      try {
        // The function's own code has run in the worker by now: lock the folder, then check what it holds.
        this.dirs.lockDebugDir(dir);
        target = readInspectorTarget(dir);
      } catch (err) {
        pool.close();
        void pool.drained.then(() => this.dirs.removeDebugDir(id));
        this.logger.warn(`debug worker of function ${spec.label} refused: ${(err as Error).message}`);
        throw new DomainError(502, `the debug worker of function ${spec.label} started without a usable inspector: ${(err as Error).message}`);
      }
    } finally {
      this.pending--;
    }
    const view: DebugSessionView = {
      sessionId: id,
      functionId: spec.functionId,
      label: spec.label,
      version: spec.version,
      runtime: family,
      websocketPath: debugSocketPath(spec.functionId, id),
      idleTimeoutMs: this.idleMs,
      timeoutDisabled: true,
      openedAt: new Date().toISOString(),
    };
    this.sessions.set(id, {
      id,
      functionId: spec.functionId,
      label: spec.label,
      owner,
      source,
      pool,
      dir,
      inspectorPath: target.path,
      view,
      connections: 0,
      lastActive: Date.now(),
      openedAt: Date.now(),
    });
    this.logger.log(`debug session ${id} opened on function ${spec.label} v${spec.version}`);
    this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
    return view;
  }

  /** The session, if `owner` opened it (anyone else is told it does not exist). */
  owned(id: string, owner: string | undefined): DebugSession {
    const s = this.sessions.get(id);
    if (!s || !owner || s.owner !== owner) throw new NotFoundError(`no debug session ${id} is open for this API key`);
    return s;
  }

  close(id: string, why: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    s.pool.close();
    void s.pool.drained.then(() => this.dirs.removeDebugDir(id));
    this.logger.log(`debug session ${id} of function ${s.label} ended: ${why}`);
    if (this.sessions.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const s of [...this.sessions.values()]) {
      if (this.table.find(s.functionId)?.pool !== s.source) this.close(s.id, 'the function was redeployed or removed');
      else if (now - s.openedAt > this.maxMs) this.close(s.id, `open for ${this.maxMs} ms, the most a session lasts (INVOKER_DEBUG_MAX_MS)`);
      else if (s.connections === 0 && s.pool.status().busy === 0 && now - s.lastActive > this.idleMs) this.close(s.id, `idle for ${this.idleMs} ms`);
    }
  }

  onApplicationShutdown(): void {
    for (const id of [...this.sessions.keys()]) this.close(id, 'the invoker is shutting down');
  }
}

/** The function's pool spec for its debug worker: one instance, kept while the session lasts, no time limit. */
function debugSpec(spec: PoolSpec, dir: string, idleMs: number): PoolSpec {
  const { resources, scaling } = spec.config;
  return {
    ...spec,
    debugDir: dir,
    config: {
      ...spec.config,
      resources: { ...resources, timeoutMs: NO_TIME_LIMIT_MS, memoryMb: resources.memoryMb + INSPECTOR_HEADROOM_MB },
      scaling: { ...scaling, minInstances: 1, maxInstances: 1, idleTimeoutMs: Math.max(idleMs, scaling.idleTimeoutMs) * 2 },
    },
  };
}
