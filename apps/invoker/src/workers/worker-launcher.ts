import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { accessSync, constants, realpathSync } from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { randomBytes } from 'crypto';
import type { RuntimeFamily } from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import {
  CgroupLimitError,
  CgroupPool,
  interpreters,
  probeInterpreter,
  RUNTIMES,
  runtimeDescriptor,
  CgroupUnavailableError,
  EgressUnavailableError,
  egressNetwork,
  findBwrap,
  LoadSpec,
  parseDenyList,
  SandboxOptions,
  WorkerCgroup,
  WorkerExit,
  WorkerLoadError,
  WorkerProcess,
} from '@platform/runtimes';
import { HealthRegistry } from '@platform/observability';
import type { Bundle } from '../bundles/bundle-store';
import { IdleWorkers } from '../pools/idle-workers';
import { InvokerSettingsValues } from '../settings';
import { linkBundle } from './code-slot';
import { PrewarmDemand } from './prewarm-demand';
import { WorkDirs } from './work-dirs';

const MiB = 1024 * 1024;
/** The runtimes this invoker starts prewarmed workers of (their descriptors' coldStart.prewarm). */
const FAMILIES: RuntimeFamily[] = RUNTIMES.map((r) => r.name);
const perRuntime = <T>(make: () => T): Record<RuntimeFamily, T> => Object.fromEntries(FAMILIES.map((f) => [f, make()]));
/** Prewarmed workers start at this niceness, so filling the pool never slows invocations being served. */
const PREWARM_NICENESS = 10;
const REFILL_DELAY_MS = 50;
/** Refills wait for cold starts still loading their function, but not for one that takes longer than this. */
const REFILL_WAITS_FOR_LOADS_MS = 500;

export interface LaunchRequest {
  family: RuntimeFamily;
  /** The exact version the function runs on (the registry resolved it); absent: the runtime's default interpreter. */
  runtimeVersion?: string;
  egress: boolean;
  bundle: Bundle;
  /** An image function: its unpacked rootfs, the sandbox's / (its workers are never prewarmed: each image is its own root). */
  rootfs?: string;
  load: LoadSpec;
  memoryMb: number;
  maxProcesses: number;
  /** A debug worker (its own fresh sandbox, never prewarmed): its inspector is relayed to a unix socket in this folder. */
  debugDir?: string;
}

/** Why a worker ended, read from its cgroup before the cgroup is removed. */
export interface ExitReport {
  exit: WorkerExit;
  oomKilled: boolean;
  processLimitHit: boolean;
}

export interface LaunchedWorker {
  worker: WorkerProcess;
  /** From the launch request to the function loaded, in ms (set when `loaded` resolves). */
  startMs: number;
  /** Resolves once the function is loaded; rejects with a LaunchFailure (the worker is then killed). */
  loaded: Promise<void>;
  prewarmed: boolean;
  exitReport: Promise<ExitReport>;
}

/** A function's idle worker, as its pool offers it to make room under the worker cap. */
export interface EvictableWorker {
  readonly worker: WorkerProcess;
  /** Stops the worker if its pool can spare it (nothing in flight, above minInstances); false when it cannot. */
  evict(): boolean;
}

/** A worker could not be given its function: `kind` tells the pool how to answer the waiting requests. */
export class LaunchFailure extends Error {
  constructor(
    message: string,
    readonly kind: 'load' | 'memory' | 'capacity' | 'system',
  ) {
    super(message);
  }
}

interface Tracked {
  cgroup?: WorkerCgroup;
  report: Promise<ExitReport>;
  /** Stopped to make room for a launch waiting on it: its slot passes to that launch when it is gone. */
  claimed?: boolean;
  /** Set when it left with `claimed`: the launch takes the slot kept for it. */
  handedOver?: boolean;
}

/**
 * Starts sandboxed workers and gives them their function. Keeps generic workers per runtime started and
 * waiting (no network, empty /code), so a cold start is: link the bundle into the worker's code slot, set
 * its limits, load the handler. Workers with egress start fresh, each with its own slirp4netns (see
 * slirp.ts in @platform/runtimes for what they can reach).
 *
 * Every worker counts against INVOKER_MAX_WORKERS. When a function needs one and the cap is reached, an
 * idle prewarmed worker is stopped first, then the least recently used idle worker of any function; only
 * when every worker is busy does the function's request wait (its pool asks `waitForRoom`). The prewarm
 * pool per runtime is sized by that runtime's cold starts in the last INVOKER_PREWARM_WINDOW_MS, between
 * INVOKER_PREWARM and INVOKER_PREWARM_MAX, and refilled after each use; when the cap is full it takes the slot of
 * the least recently used idle function worker up to INVOKER_PREWARM, above that only of one idle longer than the window.
 */
@Injectable()
export class WorkerLauncher implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(WorkerLauncher.name);
  private sandbox!: SandboxOptions;
  private cgroups?: CgroupPool;
  /** Each runtime's default interpreter (INVOKER_NODE_BIN, INVOKER_PYTHON_BIN, else the first its descriptor finds). */
  private readonly runtimeBins: Record<RuntimeFamily, string>;
  /** Where each default interpreter's prefix is bound from when the sandbox's user cannot reach it (WorkDirs.interpreterPrefix). */
  private readonly defaultPrefixSources = new Map<RuntimeFamily, string | undefined>();
  /** The version of each default interpreter: functions resolved to another version get a worker of their own interpreter. */
  private readonly defaultVersions: Record<RuntimeFamily, string | undefined> = {};
  private readonly available = new Set<RuntimeFamily>();
  private readonly idle: Record<RuntimeFamily, WorkerProcess[]> = perRuntime(() => []);
  private readonly warming: Record<RuntimeFamily, number> = perRuntime(() => 0);
  private readonly tracked = new Map<WorkerProcess, Tracked>();
  /** Workers still starting: shutdown waits for them, so none is left in a cgroup about to be removed. */
  private readonly spawning = new Set<Promise<unknown>>();
  private readonly privileged = process.getuid?.() === 0;
  private live = 0;
  private closing = false;
  private refillTimer?: NodeJS.Timeout;
  private demandTimer?: NodeJS.Timeout;
  /** Slots kept for launches that have not started their worker yet (free ones, or those of workers stopped for them). */
  private reserved = 0;
  /** Function workers starting from scratch (no prewarmed one was left): refills wait for them, not to compete for the CPU. */
  private freshStarts = 0;
  /** Cold starts loading their function, with when they began: refills wait for them (spawning costs the invoker and the CPUs). */
  private readonly loads = new Map<LaunchedWorker, number>();
  private readonly idleFunctionWorkers = new IdleWorkers<EvictableWorker>();
  private readonly roomWaiters = new Set<() => void>();
  private roomNoticeQueued = false;
  private readonly evictions = { functionWorkers: 0, prewarmed: 0 };
  private readonly demand: Record<RuntimeFamily, PrewarmDemand>;

  constructor(
    @Inject(SETTINGS) private readonly settings: InvokerSettingsValues,
    private readonly dirs: WorkDirs,
    health: HealthRegistry,
  ) {
    const named: Record<string, string | undefined> = { node: settings.INVOKER_NODE_BIN || process.execPath, python: settings.INVOKER_PYTHON_BIN };
    this.runtimeBins = Object.fromEntries(
      RUNTIMES.map((r) => [r.name, named[r.name] ?? interpreters(r)[0]?.path ?? r.versions.candidates(process.env)[0] ?? r.name]),
    );
    if (settings.INVOKER_PREWARM_MAX < settings.INVOKER_PREWARM) {
      throw new Error(
        `INVOKER_PREWARM_MAX=${settings.INVOKER_PREWARM_MAX} must be at least INVOKER_PREWARM=${settings.INVOKER_PREWARM}: ` +
          'the prewarm pool of each runtime is sized between the two',
      );
    }
    const limits = { min: settings.INVOKER_PREWARM, max: settings.INVOKER_PREWARM_MAX, windowMs: settings.INVOKER_PREWARM_WINDOW_MS };
    this.demand = perRuntime(() => new PrewarmDemand(limits));
    health.register('workers', () => {
      if (!this.sandbox) throw new Error('the sandbox is not set up yet');
      if (this.available.size === 0) throw new Error(`no runtime can run here (${FAMILIES.join(', ')}: none of their interpreters is installed)`);
    });
  }

  async onModuleInit(): Promise<void> {
    const bwrap = findBwrap();
    if (!bwrap) throw new Error('bubblewrap (bwrap) is not installed: the invoker runs every function in a bwrap sandbox (apt-get install bubblewrap)');
    const s = this.settings;
    this.sandbox = {
      bwrapPath: bwrap,
      uid: s.INVOKER_SANDBOX_UID,
      gid: s.INVOKER_SANDBOX_GID,
      runAs: this.privileged ? { uid: s.INVOKER_SANDBOX_UID, gid: s.INVOKER_SANDBOX_GID } : undefined,
      egress: this.egressSetup(),
    };
    if ('unavailable' in this.sandbox.egress!) this.logger.warn(`functions with network egress cannot run here: ${this.sandbox.egress.unavailable}`);
    const opened = this.dirs.prepare();
    if (opened.length) this.logger.warn(`made ${opened.join(', ')} searchable (o+x) so sandboxed workers reach their code`);
    try {
      this.cgroups = await CgroupPool.create();
      this.logger.log(`worker limits through cgroup ${this.cgroups.version} (${this.cgroups.name})`);
    } catch (err) {
      if (!(err instanceof CgroupUnavailableError) || s.INVOKER_CGROUPS === 'required') {
        throw new Error(`${(err as Error).message}; set INVOKER_CGROUPS=optional to run workers without memory and process limits`);
      }
      this.logger.warn(`${err.message}: workers run WITHOUT memory and process limits (INVOKER_CGROUPS=optional)`);
    }
    for (const family of FAMILIES) {
      try {
        accessSync(this.runtimeBins[family], constants.X_OK);
        this.available.add(family);
        this.defaultVersions[family] = probeInterpreter(runtimeDescriptor(family), this.runtimeBins[family])?.version;
      } catch {
        this.logger.warn(`${this.runtimeBins[family]} is not executable: ${family} functions cannot run here`);
      }
    }
    this.refill();
    // Re-sizes the prewarm pools as cold starts age out of the window (and retries refills that found no room).
    this.demandTimer = setInterval(() => this.adjustPrewarm(), Math.max(250, Math.floor(this.settings.INVOKER_PREWARM_WINDOW_MS / 4)));
    this.demandTimer.unref();
  }

  /** slirp4netns and the deny list, or why functions with egress cannot run here (they then fail to deploy). */
  private egressSetup(): NonNullable<SandboxOptions['egress']> {
    let deny: string[];
    try {
      deny = this.settings.INVOKER_EGRESS_DENY.trim() === 'none' ? [] : parseDenyList(this.settings.INVOKER_EGRESS_DENY);
    } catch (err) {
      throw new Error(`INVOKER_EGRESS_DENY: ${(err as Error).message}`);
    }
    try {
      return egressNetwork({ deny, slirp4netns: this.settings.INVOKER_SLIRP4NETNS });
    } catch (err) {
      if (err instanceof EgressUnavailableError) return { unavailable: err.message };
      throw err;
    }
  }

  /** Why functions with network egress cannot run on this invoker, if they cannot. */
  egressProblem(): string | undefined {
    const egress = this.sandbox?.egress;
    return egress && 'unavailable' in egress ? egress.unavailable : undefined;
  }

  /** Generic workers waiting, per runtime, and the size the pool aims at now (for GET /deployments). */
  prewarmStatus(): Record<RuntimeFamily, { idle: number; starting: number; target: number; recentColdStarts: number }> {
    const of = (f: RuntimeFamily) => ({
      idle: this.idle[f].length,
      starting: this.warming[f],
      target: this.prewarmTarget(f),
      recentColdStarts: this.demand[f].recent(),
    });
    return Object.fromEntries(FAMILIES.map((f) => [f, of(f)]));
  }

  /** The worker cap and what was stopped to stay under it (for GET /deployments). */
  workerStatus(): { max: number; running: number; idleFunctionWorkers: number; evictions: { functionWorkers: number; prewarmed: number } } {
    return { max: this.settings.INVOKER_MAX_WORKERS, running: this.live, idleFunctionWorkers: this.idleFunctionWorkers.size, evictions: { ...this.evictions } };
  }

  /** Whether a worker can be had now: a prewarmed one, a free slot, or an idle worker to stop for it. */
  hasCapacity(family: RuntimeFamily, egress: boolean): boolean {
    if (!egress && this.idle[family].length > 0) return true;
    return this.freeSlots() > 0 || this.idleCount() > 0 || this.idleFunctionWorkers.size > 0;
  }

  /** Why no worker can be had, naming the setting (for the answer to a request that waited in vain). */
  capacityProblem(): string {
    const max = this.settings.INVOKER_MAX_WORKERS;
    const waiting = this.idleCount() + this.idleFunctionWorkers.size;
    return (
      `the invoker runs its maximum of ${max} workers (INVOKER_MAX_WORKERS=${max}) and ${this.live - waiting} of them are busy or starting ` +
      'with no idle one to stop; try again, or raise INVOKER_MAX_WORKERS'
    );
  }

  /** `w` has nothing in flight: it may be stopped for another function, least recently used first. */
  markIdle(w: EvictableWorker): void {
    this.idleFunctionWorkers.markIdle(w);
    this.noticeRoom();
  }

  /** `w` was given work, or is stopping: it is not to be stopped for another function. */
  markBusy(w: EvictableWorker): void {
    this.idleFunctionWorkers.remove(w);
  }

  /** Calls `then` (once) as soon as a slot frees or a worker goes idle; a pool whose requests wait on the cap asks this. */
  waitForRoom(then: () => void): void {
    this.roomWaiters.add(then);
  }

  stopWaitingForRoom(then: () => void): void {
    this.roomWaiters.delete(then);
  }

  private freeSlots(): number {
    return this.settings.INVOKER_MAX_WORKERS - this.live - this.reserved;
  }

  /** Pools waiting on the cap retry (after the current turn, so an idle worker is fully put away first). */
  private noticeRoom(): void {
    if (this.roomWaiters.size === 0 || this.roomNoticeQueued) return;
    this.roomNoticeQueued = true;
    queueMicrotask(() => {
      this.roomNoticeQueued = false;
      const waiters = [...this.roomWaiters];
      this.roomWaiters.clear();
      for (const then of waiters) then();
      // Refills held back for them go on once none waits any more.
      this.scheduleRefill();
    });
  }

  /**
   * Keeps a slot for this launch (in `reserved`), stopping a worker for it when none is free: a prewarmed one first (it is only a head start), then
   * the least recently used idle worker of any function. Throws the capacity failure when every worker is busy.
   */
  private async makeRoom(): Promise<void> {
    while (this.freeSlots() <= 0) {
      const victim = this.takePrewarmedVictim() ?? this.takeFunctionVictim();
      if (!victim) throw new LaunchFailure(this.capacityProblem(), 'capacity');
      const tracked = this.tracked.get(victim);
      if (!tracked) continue;
      tracked.claimed = true;
      victim.kill();
      await tracked.report;
      // Its slot was kept for this launch (in `reserved`).
      if (tracked.handedOver) return;
    }
    // Taken at once, so launches in the same turn do not count the same free slot.
    this.reserved++;
  }

  /** Prewarmed workers waiting, of every runtime. */
  private idleCount(): number {
    return FAMILIES.reduce((n, f) => n + this.idle[f].length, 0);
  }

  /** An idle prewarmed worker, from the runtime with the most of them above its current size. */
  private takePrewarmedVictim(): WorkerProcess | undefined {
    const surplus = (f: RuntimeFamily) => this.idle[f].length - this.prewarmTarget(f);
    const family = FAMILIES.filter((f) => this.idle[f].length > 0).sort((a, b) => surplus(b) - surplus(a))[0];
    if (!family) return undefined;
    const worker = this.idle[family].shift();
    if (worker) this.evictions.prewarmed++;
    return worker;
  }

  /** The least recently used idle worker of a function that can spare it (already told to stop). */
  private takeFunctionVictim(minIdleMs = 0): WorkerProcess | undefined {
    const evicted = this.idleFunctionWorkers.takeLeastRecentlyUsed(minIdleMs, (w) => w.evict());
    if (evicted) this.evictions.functionWorkers++;
    return evicted?.worker;
  }

  private prewarmTarget(family: RuntimeFamily): number {
    return this.demand[family].target();
  }

  async launch(req: LaunchRequest): Promise<LaunchedWorker> {
    if (!this.available.has(req.family))
      throw new LaunchFailure(`this invoker cannot run ${req.family} functions (${this.runtimeBins[req.family]} is missing)`, 'system');
    const noEgress = req.egress ? this.egressProblem() : undefined;
    if (noEgress) throw new LaunchFailure(`it needs network egress, which this invoker cannot give: ${noEgress}`, 'system');
    const started = performance.now();
    const ownInterpreter = this.otherInterpreter(req);
    // Prewarmed workers run the runtime's default interpreter: another version starts a worker of its own.
    const prewarmable = !req.egress && !ownInterpreter && !req.rootfs && !req.debugDir;
    if (prewarmable) {
      this.demand[req.family].coldStart();
      this.scheduleRefill();
    }
    const warm = prewarmable ? this.takeIdle(req.family) : undefined;
    let worker = warm;
    if (!worker) {
      await this.makeRoom();
      this.reserved--; // spawn() counts the worker in `live` right away
      // A fresh worker binds the unpacked bundle itself at /code: nothing to link.
      this.freshStarts++;
      worker = await this.spawn(req.family, req.egress, req.bundle.dir, 0, ownInterpreter, req.rootfs, req.debugDir)
        .catch((err) => {
          throw err instanceof LaunchFailure ? err : new LaunchFailure(`could not start a ${req.family} worker: ${(err as Error).message}`, 'system');
        })
        .finally(() => {
          this.freshStarts--;
          this.scheduleRefill();
        });
    }
    const tracked = this.tracked.get(worker)!;
    const fail = (err: unknown): never => {
      worker!.kill();
      if (err instanceof LaunchFailure) throw err;
      if (err instanceof WorkerLoadError) throw new LaunchFailure(err.message, 'load');
      throw new LaunchFailure(`could not give the worker its function: ${(err as Error).message}`, 'system');
    };
    try {
      if (warm) await linkBundle(req.bundle, path.join(this.dirs.slots, worker.id));
      // Limits come once the runtime is up (its own start is trusted code) and before the function's code runs.
      this.applyLimits(tracked.cgroup, req);
    } catch (err) {
      fail(err);
    }
    const launched: LaunchedWorker = { worker, startMs: 0, prewarmed: !!warm, exitReport: tracked.report, loaded: Promise.resolve() };
    // Not awaited here: invocations can be sent right behind LOAD, the worker runs them once it has loaded.
    launched.loaded = worker.load(req.load, this.settings.INVOKER_LOAD_TIMEOUT_MS).then(
      () => {
        launched.startMs = performance.now() - started;
      },
      async (err) => {
        // A module whose top-level code blows the memory limit is a memory problem, not a crash.
        if (!worker!.alive && (await tracked.report).oomKilled) {
          throw new LaunchFailure(`loading the function exceeded its memory limit of ${req.memoryMb} MB (resources.memoryMb)`, 'memory');
        }
        return fail(err);
      },
    );
    launched.loaded.catch(() => undefined); // the pool handles the failure; this only keeps it from being "unhandled"
    this.loads.set(launched, started);
    void launched.loaded
      .catch(() => undefined)
      .finally(() => {
        this.loads.delete(launched);
        this.scheduleRefill();
      });
    if (warm) worker.setNiceness(0);
    return launched;
  }

  private applyLimits(cgroup: WorkerCgroup | undefined, req: LaunchRequest): void {
    if (!cgroup) return;
    try {
      cgroup.setMemoryLimit(req.memoryMb * MiB);
    } catch (err) {
      if (err instanceof CgroupLimitError) {
        throw new LaunchFailure(
          `the function's memory limit of ${req.memoryMb} MB is below what the ${req.family} runtime itself uses ` +
            `(${Math.ceil(err.usageBytes / MiB)} MB); raise resources.memoryMb`,
          'memory',
        );
      }
      throw err;
    }
    // The runtime's own threads are not the function's: it may start maxProcesses more.
    cgroup.setProcessLimit(cgroup.taskCount() + req.maxProcesses);
  }

  private takeIdle(family: RuntimeFamily): WorkerProcess | undefined {
    const list = this.idle[family];
    let worker: WorkerProcess | undefined;
    while ((worker = list.shift()) && !worker.alive);
    this.scheduleRefill();
    return worker;
  }

  /**
   * The interpreter of a function resolved to another version than the runtime's default one (python3.9 on a
   * machine whose default is 3.11), or undefined when the default serves it; fails when this invoker lacks it.
   */
  private otherInterpreter(req: LaunchRequest): { bin: string; prefixSource?: string } | undefined {
    const want = req.runtimeVersion;
    if (!want || want === this.defaultVersions[req.family]) return undefined;
    const found = interpreters(runtimeDescriptor(req.family)).find((i) => i.version === want);
    if (!found) {
      const have = interpreters(runtimeDescriptor(req.family)).map((i) => i.version);
      throw new LaunchFailure(
        `this invoker has no ${req.family} ${want} (it has ${have.join(', ') || 'none'}); the registry resolved the function to it`,
        'system',
      );
    }
    // bwrap runs as the sandbox's user and binds the interpreter's prefix: one it cannot reach (pyenv's under /root) is
    // bound from a copy in the data dir; the host's folders are never chmod-ed.
    const prefix = path.dirname(path.dirname(found.realPath));
    let source: string | undefined;
    try {
      source = this.dirs.interpreterPrefix(prefix, found.realPath);
    } catch (err) {
      throw new LaunchFailure(`${req.family} ${want} cannot be given to the sandbox: ${(err as Error).message}`, 'system');
    }
    if (source) this.logger.debug(`${req.family} ${want} (${prefix}) is out of the sandbox user's reach: bound from its copy ${source}`);
    return { bin: found.realPath, prefixSource: source };
  }

  private defaultPrefixSource(family: RuntimeFamily): string | undefined {
    if (!this.defaultPrefixSources.has(family)) {
      let real: string | undefined;
      try {
        real = realpathSync(this.runtimeBins[family]);
      } catch {
        real = undefined; // not installed: the launch says so
      }
      this.defaultPrefixSources.set(
        family,
        !real || real.startsWith('/usr/') ? undefined : this.dirs.interpreterPrefix(path.dirname(path.dirname(real)), real),
      );
    }
    return this.defaultPrefixSources.get(family);
  }

  private async spawn(
    family: RuntimeFamily,
    egress: boolean,
    codeDir: string | undefined,
    niceness: number,
    own?: { bin: string; prefixSource?: string },
    rootfs?: string,
    debugDir?: string,
  ): Promise<WorkerProcess> {
    if (!own && !rootfs) own = { bin: this.runtimeBins[family], prefixSource: this.defaultPrefixSource(family) };
    const id = randomBytes(6).toString('hex');
    const slot = codeDir ?? this.dirs.slot(id);
    const cgroup = this.cgroups?.worker(id);
    this.live++;
    const cleanup = async () => {
      this.live--;
      const t = this.tracked.get(worker);
      if (t?.claimed) {
        t.handedOver = true;
        this.reserved++;
      } else {
        this.noticeRoom();
        this.scheduleRefill();
      }
      await cgroup?.remove().catch((err) => this.logger.warn(`could not remove the cgroup of worker ${id}: ${err.message}`));
      if (!codeDir) this.dirs.removeSlot(id);
    };
    let worker: WorkerProcess;
    const starting = WorkerProcess.start({
      id,
      family,
      codeDir: slot,
      shimRoot: this.dirs.shims,
      rootfs,
      runtimeBin: own?.bin ?? this.runtimeBins[family],
      runtimePrefixSource: own?.prefixSource,
      egress,
      sandbox: this.sandbox,
      cgroup,
      niceness: this.privileged ? niceness : 0,
      debugDir,
    });
    this.spawning.add(starting);
    try {
      worker = await starting;
    } catch (err) {
      cgroup?.killAll();
      await cleanup();
      throw err;
    } finally {
      this.spawning.delete(starting);
    }
    worker.onStrayOutput = (text) => this.logger.debug(`worker ${id}: ${text.trimEnd()}`);
    const report = worker.exited.then(async (exit) => {
      const r: ExitReport = { exit, oomKilled: (cgroup?.oomKills() ?? 0) > 0, processLimitHit: (cgroup?.processLimitHits() ?? 0) > 0 };
      await cleanup();
      this.tracked.delete(worker);
      return r;
    });
    this.tracked.set(worker, { cgroup, report });
    return worker;
  }

  private scheduleRefill(): void {
    if (this.refillTimer || this.closing) return;
    // After the cold start that took a worker has had the CPU (starting a runtime costs tens of ms of it).
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refill();
    }, REFILL_DELAY_MS);
  }

  /** Shrinks a prewarm pool whose demand aged out of the window, and fills those below their size. */
  private adjustPrewarm(): void {
    if (this.closing) return;
    for (const family of FAMILIES) {
      const list = this.idle[family];
      while (list.length && list.length + this.warming[family] > this.prewarmTarget(family)) {
        list.shift()!.kill();
      }
    }
    this.refill();
  }

  /** Whether a cold start began less than REFILL_WAITS_FOR_LOADS_MS ago and is still loading (then a refill is due when it ends). */
  private coldStartsLoading(): boolean {
    const now = performance.now();
    for (const started of this.loads.values()) if (now - started < REFILL_WAITS_FOR_LOADS_MS) return true;
    return false;
  }

  private refill(): void {
    // Functions first: no refill while requests wait on the cap, or while function workers start from scratch.
    if (this.closing || this.freshStarts > 0 || this.roomWaiters.size > 0) return;
    // Nor while cold starts load their function: a burst of them is answered before its workers are replaced.
    if (this.coldStartsLoading()) return this.scheduleRefill();
    for (const family of this.available) {
      if (!runtimeDescriptor(family).coldStart.prewarm) continue;
      let have: number;
      while ((have = this.idle[family].length + this.warming[family]) < this.prewarmTarget(family)) {
        if (this.freeSlots() <= 0) {
          // Up to INVOKER_PREWARM the pool takes
          // the slot of the least recently used idle worker (so the next cold start need not stop one on its way), above it
          // only that of a worker idle for longer than the demand window. It is refilled once that worker is gone.
          this.takeFunctionVictim(have < this.settings.INVOKER_PREWARM ? 0 : this.settings.INVOKER_PREWARM_WINDOW_MS);
          break;
        }
        this.warming[family]++;
        this.spawn(family, false, undefined, PREWARM_NICENESS).then(
          (worker) => {
            this.warming[family]--;
            if (this.closing) return worker.kill();
            this.idle[family].push(worker);
            // A function waiting on the cap may take it (or stop it for a worker of the other runtime).
            this.noticeRoom();
            void worker.exited.then(() => {
              const i = this.idle[family].indexOf(worker);
              if (i !== -1) {
                this.idle[family].splice(i, 1);
                this.logger.warn(`prewarmed ${family} worker ${worker.id} exited while waiting`);
                this.scheduleRefill();
              }
            });
          },
          (err) => {
            this.warming[family]--;
            this.logger.error(`could not prewarm a ${family} worker: ${err.message}`);
            setTimeout(() => this.refill(), 2_000).unref();
          },
        );
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    if (this.refillTimer) clearTimeout(this.refillTimer);
    if (this.demandTimer) clearInterval(this.demandTimer);
    await Promise.allSettled([...this.spawning]);
    const reports = [...this.tracked].map(([worker, t]) => {
      worker.kill();
      return t.report;
    });
    await Promise.race([Promise.all(reports), new Promise((r) => setTimeout(r, 5_000).unref())]);
    await this.cgroups?.close();
    this.dirs.cleanup();
  }
}
