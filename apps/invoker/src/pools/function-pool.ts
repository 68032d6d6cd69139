import { Logger } from '@nestjs/common';
import { performance } from 'perf_hooks';
import { type EffectiveConfig, type RuntimeFamily, type ScalingMetric, scalingTarget } from '@platform/contracts';
import { imageCommand, imageEnv, ImageRunConfig, WorkerExitedError, WorkerProcess } from '@platform/runtimes';
import type { Bundle } from '../bundles/bundle-store';
import { failure, InvocationOutcome } from '../invocations/outcome';
import { EvictableWorker, ExitReport, LaunchedWorker, LaunchFailure, WorkerLauncher } from '../workers/worker-launcher';
import { cpuPercent, sampleWorker, type UsageSample } from '../workers/worker-usage';
import { Deque } from './deque';
import { METRIC_HEADER, reportedMetric, ScalingSignal } from './scaling-signal';
import { exitOutcome, launchFailureOutcome, replyOutcome } from './outcomes';

/** After a failed load, requests fail fast with the same error for this long instead of each trying again. */
const LOAD_RETRY_MS = 5_000;
/**
 * The inputs in flight on one worker add up to at most this share of its memory limit (a worker always takes one):
 * a request costs the runtime three to four times its JSON (frame, text, parsed value), and 64 requests of 1 MB at
 * once got a Node worker of 128 MB killed for memory.
 */
const INFLIGHT_INPUT_SHARE = 1 / 8;
const MiB = 1024 * 1024;
/** How often the workers of a pool scaling on cpu or memory are sampled (/proc and their cgroup). */
const USAGE_SAMPLE_MS = 1_000;

export interface PoolSpec {
  deploymentId: string;
  functionId: string;
  label: string;
  version: number;
  family: RuntimeFamily;
  /** The exact version of the runtime the registry resolved the function to. */
  runtimeVersion?: string;
  bundle: Bundle;
  entrypoint: string;
  env: Record<string, string>;
  config: EffectiveConfig;
  /** An image function: the image's unpacked rootfs and run config (its process, environment and working directory). */
  image?: { rootfs: string; config: ImageRunConfig; manifestDigest: string };
  /** How long a process of its own (custom, image) may take to listen on $PORT. */
  readyTimeoutMs?: number;
  /** A debug session's pool: its one worker relays its inspector to a unix socket in this folder (DebugSessions). */
  debugDir?: string;
}

interface Instance extends EvictableWorker {
  launched: LaunchedWorker;
  worker: WorkerProcess;
  /** Until the worker confirms the function loaded (invocations may already be on their way to it). */
  loading: boolean;
  /** Set when the function could not be loaded: every invocation sent to this worker ends with it. */
  loadFailure?: InvocationOutcome;
  inflight: number;
  /** Invocations it takes at once: scaling.concurrency, then what the worker said once loaded (an async Python handler takes more). */
  concurrency: number;
  /** The JSON length of the inputs in flight on it (see INFLIGHT_INPUT_SHARE). */
  inflightBytes: number;
  served: number;
  stopping: boolean;
  /** Made the first time the instance goes idle, then refreshed each time it does again (it checks it still is). */
  idleTimer?: NodeJS.Timeout;
  /** Invocations on this instance that ran past the time limit (the instance is being killed for them). */
  timedOut: Set<string>;
  /** The last cpu/memory sample of its worker (pools scaling on cpu or memory). */
  usage?: UsageSample;
}

interface Waiter {
  input: unknown;
  /** JSON.stringify(input), made once: its length counts against the worker's memory, and it is what is sent. */
  json: string | undefined;
  invocationId: string;
  traceparent?: string;
  resolve: (outcome: InvocationOutcome) => void;
  timer: NodeJS.Timeout;
  /** performance.now() when it joined the queue (its wait is on the outcome: queueMs). */
  since: number;
}

export interface PoolStatus {
  deploymentId: string;
  functionId: string;
  label: string;
  version: number;
  family: RuntimeFamily;
  instances: number;
  starting: number;
  busy: number;
  queued: number;
  invocations: number;
  coldStarts: number;
  /** Idle instances stopped to make room for other functions under INVOKER_MAX_WORKERS. */
  evictions: number;
  scaling: EffectiveConfig['scaling'];
  workers: Array<{ id: string; inflight: number; concurrency: number; served: number; startMs: number; prewarmed: boolean }>;
  lastLoadError: string | null;
  /** What the pool scales on now: the metric summed over its instances, per instance, its target and the instances it asks for. */
  signal: { metric: ScalingMetric; name: string; total: number; perInstance: number; target: number; desired: number };
}

/**
 * The instances (workers) of one deployed function. Requests go to an instance with a free slot
 * (`concurrency` per instance); otherwise they wait in a queue bounded by `queueSize` while up to
 * `maxInstances` instances start, and get 429 when it is full. `minInstances` stay warm; an instance
 * idle for `idleTimeoutMs` above that stops. A timed-out invocation kills its worker (504); a worker
 * that dies fails only its own in-flight requests (502) and is replaced when needed.
 * Under the invoker's worker cap, an idle instance above `minInstances` may be stopped for another
 * function (least recently used first); when the cap is full of busy workers, requests wait for room
 * and, if none comes in time, get 503 naming INVOKER_MAX_WORKERS.
 */
export class FunctionPool {
  private readonly instances: Instance[] = [];
  private readonly queue = new Deque<Waiter>();
  private starting = 0;
  private retired = false;
  private loadFailure?: { outcome: InvocationOutcome; until: number };
  private minTimer?: NodeJS.Timeout;
  private invocations = 0;
  /** What a loaded worker of this function said it runs at once (an async Python handler takes more than scaling.concurrency). */
  private learnedConcurrency?: number;
  private coldStarts = 0;
  private evictions = 0;
  /** Called by the launcher when a slot frees or a worker goes idle, while requests here wait on the cap. */
  private readonly onRoom = () => this.pump();
  private readonly signal: ScalingSignal;
  /** Round-robin start for pools that scale on something other than concurrency (they spread, rather than pack). */
  private cursor = 0;
  private usageTimer?: NodeJS.Timeout;
  private resolveDrained!: () => void;
  /** Resolves once the pool is retired and every one of its workers is gone (its code may then go too). */
  readonly drained = new Promise<void>((resolve) => (this.resolveDrained = resolve));

  constructor(
    readonly spec: PoolSpec,
    private readonly launcher: WorkerLauncher,
    private readonly logger: Logger,
  ) {
    this.signal = new ScalingSignal(this.scaling.metric, scalingTarget(this.scaling, spec.config.resources.memoryMb));
    if (this.scaling.metric === 'cpu' || this.scaling.metric === 'memory') {
      this.usageTimer = setInterval(() => this.sampleUsage(), USAGE_SAMPLE_MS);
      this.usageTimer.unref();
    }
  }

  private get scaling() {
    return this.spec.config.scaling;
  }

  /** Requests one instance takes: scaling.concurrency until a worker has loaded the function and said otherwise. */
  private get perInstance(): number {
    return this.learnedConcurrency ?? this.scaling.concurrency;
  }

  /** Starts `minInstances`; rejects with the reason when the function cannot be loaded. */
  async start(): Promise<void> {
    const launches = Array.from({ length: this.scaling.minInstances }, () => this.launchInstance());
    const results = await Promise.allSettled(launches);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** `traceparent`: of the invocation's worker span, handed to the handler (its context.traceparent). */
  invoke(input: unknown, invocationId: string, traceparent?: string): Promise<InvocationOutcome> {
    this.invocations++;
    this.signal.arrival();
    const json = JSON.stringify(input) as string | undefined;
    // Only while nobody waits: a request queued because its input did not fit a worker's budget must not be overtaken
    // forever by smaller ones that still fit.
    const free = this.queue.length === 0 ? this.freeInstance(json) : undefined;
    if (this.scaling.metric !== 'concurrency') this.scaleOnMetric();
    if (free) return this.run(free, input, json, invocationId, false, traceparent);
    if (this.loadFailure && Date.now() < this.loadFailure.until && this.active() === 0) return Promise.resolve(this.loadFailure.outcome);
    if (this.retired && this.active() === 0 && this.starting === 0) {
      return Promise.resolve(failure(503, `function ${this.spec.label} was redeployed or removed while this request arrived; try again`, 'crash'));
    }
    const reserved = this.starting * this.capacityFor(json);
    if (this.queue.length >= reserved) {
      if (this.canScaleUp()) {
        this.launchInstance().catch(() => undefined);
      } else if (this.queue.length - reserved >= this.scaling.queueSize) {
        if (this.blockedByCap()) {
          return Promise.resolve(
            failure(
              503,
              `function ${this.spec.label} cannot get a worker: ${this.launcher.capacityProblem()} (and ${this.queue.length} request(s) wait, scaling.queueSize ${this.scaling.queueSize})`,
              'queue-full',
            ),
          );
        }
        return Promise.resolve(
          failure(
            429,
            `function ${this.spec.label} is at capacity: ${this.active()} instance(s) busy (scaling.maxInstances ${this.scaling.maxInstances}, ` +
              `concurrency ${this.scaling.concurrency}) and ${this.queue.length - reserved} request(s) waiting (scaling.queueSize ${this.scaling.queueSize}); try again later`,
            'queue-full',
          ),
        );
      }
    }
    return new Promise<InvocationOutcome>((resolve) => {
      const waiter: Waiter = { input, json, invocationId, traceparent, resolve, timer: undefined as unknown as NodeJS.Timeout, since: performance.now() };
      waiter.timer = setTimeout(() => {
        if (!this.queue.remove(waiter)) return;
        const limit = this.spec.config.resources.timeoutMs;
        if (this.blockedByCap()) {
          resolve(
            failure(
              503,
              `no worker was free for function ${this.spec.label} within its time limit of ${limit} ms: ${this.launcher.capacityProblem()}`,
              'timeout',
            ),
          );
          return;
        }
        resolve(failure(504, `no instance of function ${this.spec.label} became free within its time limit of ${limit} ms`, 'timeout'));
      }, this.spec.config.resources.timeoutMs);
      this.queue.push(waiter);
      if (this.blockedByCap()) this.launcher.waitForRoom(this.onRoom);
    });
  }

  /** Stops taking new instances; what is queued is still served, then every instance stops. */
  retire(): void {
    this.retired = true;
    if (this.usageTimer) clearInterval(this.usageTimer);
    this.launcher.stopWaitingForRoom(this.onRoom);
    if (this.minTimer) clearTimeout(this.minTimer);
    for (const inst of [...this.instances]) if (inst.inflight === 0 && this.queue.length === 0) this.stop(inst);
    this.failStranded(failure(503, `function ${this.spec.label} was redeployed or removed while this request waited; try again`, 'crash'));
    this.checkDrained();
  }

  private checkDrained(): void {
    if (this.retired && this.instances.length === 0 && this.starting === 0) this.resolveDrained();
  }

  /** Shutdown: every worker is killed, waiting requests get 503. */
  close(): void {
    this.retire();
    for (const w of this.queue.drain()) {
      clearTimeout(w.timer);
      w.resolve(failure(503, 'the invoker is shutting down; try again', 'crash'));
    }
    for (const inst of [...this.instances]) this.stop(inst);
  }

  status(): PoolStatus {
    return {
      deploymentId: this.spec.deploymentId,
      functionId: this.spec.functionId,
      label: this.spec.label,
      version: this.spec.version,
      family: this.spec.family,
      instances: this.active(),
      starting: this.starting,
      busy: this.instances.filter((i) => !i.stopping && i.inflight > 0).length,
      queued: this.queue.length,
      invocations: this.invocations,
      coldStarts: this.coldStarts,
      evictions: this.evictions,
      scaling: this.scaling,
      workers: this.instances
        .filter((i) => !i.stopping)
        .map((i) => ({
          id: i.worker.id,
          inflight: i.inflight,
          concurrency: i.concurrency,
          served: i.served,
          startMs: Math.round(i.launched.startMs * 100) / 100,
          prewarmed: i.launched.prewarmed,
        })),
      lastLoadError: this.loadFailure?.outcome.error ?? null,
      signal: this.signalStatus(),
    };
  }

  /** The scaling metric now (also what /metrics shows per function). */
  signalStatus(): PoolStatus['signal'] {
    const inflight = this.inflight();
    const total = this.signal.total(inflight);
    const active = this.active();
    return {
      metric: this.signal.metric,
      name: this.scaling.metric === 'custom' ? this.scaling.customMetric! : this.scaling.metric,
      total: Math.round(total * 1000) / 1000,
      perInstance: active ? Math.round((total / active) * 1000) / 1000 : 0,
      target: this.signal.target,
      desired: this.signal.desired(inflight, this.scaling),
    };
  }

  private inflight(): number {
    let n = 0;
    for (const i of this.instances) if (!i.stopping) n += i.inflight;
    return n;
  }

  /**
   * Starts instances while the metric asks for more than run or start (rps, cpu, memory, custom; concurrency is the
   * queue's rule below). Requests still queue and start instances by concurrency when those are not enough.
   */
  private scaleOnMetric(): void {
    const want = this.signal.desired(this.inflight(), this.scaling);
    for (let n = this.active() + this.starting; n < want && this.canScaleUp(); n++) this.launchInstance().catch(() => undefined);
  }

  /** Whether the metric still wants this many instances (an idle one is then kept rather than stopped). */
  private metricKeeps(active: number): boolean {
    return this.scaling.metric !== 'concurrency' && active <= this.signal.desired(this.inflight(), this.scaling);
  }

  private sampleUsage(): void {
    if (this.retired) return;
    const now = performance.now();
    for (const inst of this.instances) {
      if (inst.stopping || inst.loading) continue;
      const sample = sampleWorker(inst.worker, now);
      if (!sample) continue;
      if (this.scaling.metric === 'memory') this.signal.report(inst.worker.id, sample.memoryMiB);
      else if (inst.usage) this.signal.report(inst.worker.id, cpuPercent(inst.usage, sample));
      inst.usage = sample;
    }
    this.scaleOnMetric();
  }

  private active(): number {
    let n = 0;
    for (const i of this.instances) if (!i.stopping) n++;
    return n;
  }

  private freeInstance(json: string | undefined): Instance | undefined {
    if (this.scaling.metric === 'concurrency' || this.instances.length < 2) {
      for (const i of this.instances) if (!i.stopping && this.fits(i, json) && i.worker.alive) return i;
      return undefined;
    }
    // Scaled on another metric, the instances it asked for share the traffic (packing would leave them idle).
    const n = this.instances.length;
    for (let k = 0; k < n; k++) {
      const i = this.instances[(this.cursor + k) % n];
      if (!i.stopping && !i.loading && this.fits(i, json) && i.worker.alive) {
        this.cursor = (this.cursor + k + 1) % n;
        return i;
      }
    }
    for (const i of this.instances) if (!i.stopping && this.fits(i, json) && i.worker.alive) return i;
    return undefined;
  }

  /** Most input bytes in flight on one worker (INFLIGHT_INPUT_SHARE of its memory limit). */
  private get inputBudget(): number {
    return this.spec.config.resources.memoryMb * MiB * INFLIGHT_INPUT_SHARE;
  }

  /** Whether `inst` may take one more request with this input: a free slot, and room in its input budget unless it is idle. */
  private fits(inst: Instance, json: string | undefined): boolean {
    if (inst.inflight >= inst.concurrency) return false;
    return inst.inflight === 0 || inst.inflightBytes + (json?.length ?? 0) <= this.inputBudget;
  }

  /** How many requests like this one an instance takes: its concurrency, fewer for large inputs. */
  private capacityFor(json: string | undefined): number {
    const size = json?.length ?? 0;
    return size > 0 ? Math.max(1, Math.min(this.perInstance, Math.floor(this.inputBudget / size))) : this.perInstance;
  }

  /** Whether the function's own rules allow another instance (the invoker's cap aside). */
  private mayScaleUp(): boolean {
    if (this.retired || (this.loadFailure && Date.now() < this.loadFailure.until)) return false;
    return this.active() + this.starting < this.scaling.maxInstances;
  }

  private canScaleUp(): boolean {
    return this.mayScaleUp() && this.launcher.hasCapacity(this.spec.family, this.spec.config.network.egress);
  }

  /** Requests wait because the invoker's worker cap is full of busy workers, not because of this function's limits. */
  private blockedByCap(): boolean {
    return this.mayScaleUp() && !this.launcher.hasCapacity(this.spec.family, this.spec.config.network.egress);
  }

  /** The launcher's way to stop this instance for another function: only when idle and above minInstances. */
  private evict(inst: Instance): boolean {
    if (inst.inflight > 0 || inst.stopping || this.active() <= this.scaling.minInstances) return false;
    this.evictions++;
    this.stop(inst);
    return true;
  }

  private launchInstance(): Promise<Instance> {
    this.starting++;
    const { spec } = this;
    const launch = this.launcher.launch({
      family: spec.family,
      runtimeVersion: spec.runtimeVersion,
      egress: spec.config.network.egress,
      bundle: spec.bundle,
      rootfs: spec.image?.rootfs,
      memoryMb: spec.config.resources.memoryMb,
      maxProcesses: spec.config.resources.maxProcesses,
      debugDir: spec.debugDir,
      load: {
        entrypoint: spec.entrypoint,
        env: spec.image ? imageEnv(spec.image.config, spec.env) : spec.env,
        ...(spec.image ? { command: imageCommand(spec.image.config), workingDir: spec.image.config.workingDir } : {}),
        readyTimeoutMs: spec.readyTimeoutMs,
        // What the SDK's getSecret looks up: secret name -> the variable holding its value.
        secrets: spec.config.secrets.map((r) => ({ env: r.env, secret: r.secret, key: r.key })),
        functionId: spec.functionId,
        label: spec.label,
        version: spec.version,
        memoryMb: spec.config.resources.memoryMb,
        timeoutMs: spec.config.resources.timeoutMs,
        maxResponseBytes: spec.config.resources.maxResponseBytes,
        concurrency: this.scaling.concurrency,
        asyncConcurrency: this.scaling.asyncConcurrency,
      },
    });
    return launch.then(
      (launched) => {
        this.starting--;
        const inst: Instance = {
          launched,
          worker: launched.worker,
          loading: true,
          inflight: 0,
          inflightBytes: 0,
          concurrency: this.perInstance,
          served: 0,
          stopping: false,
          timedOut: new Set(),
          evict: () => this.evict(inst),
        };
        this.instances.push(inst);
        void launched.exitReport.then((report) => this.onExit(inst, report));
        // The requests that waited for this start are its cold starts; they are sent at once, right behind the
        // function's LOAD (no round trip), and run as soon as it is loaded.
        while (this.queue.length && this.fits(inst, this.queue.peek()!.json)) this.dispatch(this.queue.shift()!, inst, true);
        return launched.loaded.then(
          () => {
            inst.loading = false;
            inst.concurrency = this.learnedConcurrency = this.loadedConcurrency(inst.worker);
            this.loadFailure = undefined;
            this.pump();
            this.afterRun(inst);
            return inst;
          },
          (err: LaunchFailure) => {
            inst.loadFailure = launchFailureOutcome(this.spec.label, err);
            inst.stopping = true;
            this.onLaunchFailure(err);
            throw err;
          },
        );
      },
      (err: LaunchFailure) => {
        this.starting--;
        this.onLaunchFailure(err);
        this.checkDrained();
        throw err;
      },
    );
  }

  /** What the loaded worker said it runs at once, never more than the config allows (an older shim says nothing). */
  private loadedConcurrency(worker: WorkerProcess): number {
    const most = Math.max(this.scaling.concurrency, this.scaling.asyncConcurrency ?? 0);
    return Math.min(worker.concurrency ?? this.scaling.concurrency, most);
  }

  private onLaunchFailure(err: LaunchFailure): void {
    // Another launch took the room first: the requests keep waiting for the next worker to go idle.
    if (err.kind === 'capacity' && this.queue.length && this.mayScaleUp()) return this.launcher.waitForRoom(this.onRoom);
    this.logger.warn(`function ${this.spec.label}: ${err.message}`);
    const outcome = launchFailureOutcome(this.spec.label, err);
    if (err.kind === 'load' || err.kind === 'memory') this.loadFailure = { outcome, until: Date.now() + LOAD_RETRY_MS };
    this.failStranded(outcome);
    this.scheduleMin();
  }

  /** Waiting requests that nothing will serve (no instance, none starting) get `outcome`. */
  private failStranded(outcome: InvocationOutcome): void {
    if (this.active() > 0 || this.starting > 0) return;
    for (const w of this.queue.drain()) {
      clearTimeout(w.timer);
      w.resolve(outcome);
    }
  }

  private dispatch(w: Waiter, inst: Instance, cold: boolean): void {
    clearTimeout(w.timer);
    const queueMs = performance.now() - w.since;
    void this.run(inst, w.input, w.json, w.invocationId, cold, w.traceparent).then((o) => {
      o.queueMs = queueMs;
      w.resolve(o);
    });
  }

  /** Hands waiting requests to free instances, and starts instances for those no start will cover. */
  private pump(): void {
    let inst: Instance | undefined;
    while (this.queue.length && (inst = this.freeInstance(this.queue.peek()!.json))) this.dispatch(this.queue.shift()!, inst, false);
    const perStart = this.queue.length ? this.capacityFor(this.queue.peek()!.json) : this.perInstance;
    let uncovered = this.queue.length - this.starting * perStart;
    while (uncovered > 0 && this.canScaleUp()) {
      this.launchInstance().catch(() => undefined);
      uncovered -= perStart;
    }
    if (uncovered > 0 && this.blockedByCap()) this.launcher.waitForRoom(this.onRoom);
  }

  private async run(
    inst: Instance,
    input: unknown,
    json: string | undefined,
    invocationId: string,
    cold: boolean,
    traceparent?: string,
  ): Promise<InvocationOutcome> {
    const sentWhileLoading = inst.loading;
    this.launcher.markBusy(inst);
    const bytes = json?.length ?? 0;
    inst.inflight++;
    inst.inflightBytes += bytes;
    inst.served++;
    if (cold) this.coldStarts++;
    const timeoutMs = this.spec.config.resources.timeoutMs;
    const timer = setTimeout(() => {
      inst.timedOut.add(invocationId);
      this.stop(inst);
    }, timeoutMs);
    let outcome: InvocationOutcome;
    try {
      outcome = replyOutcome(
        this.spec,
        await inst.worker.invoke(input, { invocationId, deadline: Date.now() + timeoutMs, ...(traceparent ? { traceparent } : {}) }, json),
      );
    } catch (err) {
      const report = await inst.launched.exitReport;
      outcome = exitOutcome(this.spec, report, err as WorkerExitedError, inst.timedOut.has(invocationId), inst.timedOut.size > 0);
    } finally {
      clearTimeout(timer);
      inst.inflight--;
      inst.inflightBytes -= bytes;
    }
    // The worker confirms the load before it answers anything sent behind it: settled by now.
    if (sentWhileLoading) await inst.launched.loaded.catch(() => undefined);
    if (inst.loadFailure) outcome = { ...inst.loadFailure, logs: outcome.logs };
    if (this.scaling.metric === 'custom') this.takeReportedMetric(inst, outcome);
    outcome.coldStart = cold;
    outcome.startMs = cold ? Math.round(inst.launched.startMs * 1000) / 1000 : null;
    outcome.workerId = inst.worker.id;
    outcome.queueMs = 0;
    this.afterRun(inst);
    return outcome;
  }

  /** The handler's x-hks-metric header: its value of the custom metric is this instance's sample; the header stays internal. */
  private takeReportedMetric(inst: Instance, outcome: InvocationOutcome): void {
    const key = Object.keys(outcome.headers).find((k) => k.toLowerCase() === METRIC_HEADER);
    if (key === undefined) return;
    const value = reportedMetric(outcome.headers[key], this.scaling.customMetric!);
    const headers = { ...outcome.headers };
    delete headers[key];
    outcome.headers = headers;
    if (value === undefined) return;
    this.signal.report(inst.worker.id, value);
    this.scaleOnMetric();
  }

  private afterRun(inst: Instance): void {
    if (inst.stopping) return;
    this.pump();
    if (inst.inflight > 0) return;
    if (this.retired) {
      if (this.queue.length === 0) this.stop(inst);
      return;
    }
    if (this.active() > this.scaling.minInstances) this.launcher.markIdle(inst);
    if (inst.idleTimer) {
      inst.idleTimer.refresh();
      return;
    }
    // Busy again when it fires (it was not cleared meanwhile): nothing to do; the next idle spell refreshes it.
    inst.idleTimer = setTimeout(() => {
      if (inst.inflight !== 0 || inst.stopping || this.active() <= this.scaling.minInstances) return;
      // Still asked for by the metric (rps, cpu, memory, custom): look again after another idle timeout.
      if (this.metricKeeps(this.active())) inst.idleTimer?.refresh();
      else this.stop(inst);
    }, this.scaling.idleTimeoutMs);
    inst.idleTimer.unref();
  }

  private stop(inst: Instance): void {
    this.launcher.markBusy(inst);
    if (inst.idleTimer) clearTimeout(inst.idleTimer);
    inst.stopping = true;
    inst.worker.kill();
  }

  private onExit(inst: Instance, report: ExitReport): void {
    const i = this.instances.indexOf(inst);
    if (i !== -1) this.instances.splice(i, 1);
    this.signal.forget(inst.worker.id);
    this.launcher.markBusy(inst);
    if (inst.idleTimer) clearTimeout(inst.idleTimer);
    if (!inst.stopping) {
      const why = report.oomKilled ? 'ran out of memory' : `exited (${report.exit.signal ?? `code ${report.exit.code}`})`;
      this.logger.warn(`function ${this.spec.label}: worker ${inst.worker.id} ${why}; replacing it as needed`);
    }
    this.pump();
    // Requests waiting on the invoker's cap keep waiting for room (an evicted instance is not a crash).
    if (!this.blockedByCap()) this.failStranded(failure(503, `no worker is left to serve function ${this.spec.label}; try again`, 'crash'));
    this.ensureMin();
    this.checkDrained();
  }

  private ensureMin(): void {
    if (this.retired) return;
    if (this.loadFailure && Date.now() < this.loadFailure.until) return this.scheduleMin();
    for (
      let n = this.active() + this.starting;
      n < this.scaling.minInstances && this.launcher.hasCapacity(this.spec.family, this.spec.config.network.egress);
      n++
    ) {
      this.launchInstance().catch(() => undefined);
    }
  }

  private scheduleMin(): void {
    if (this.retired || this.minTimer || this.scaling.minInstances === 0) return;
    this.minTimer = setTimeout(() => {
      this.minTimer = undefined;
      this.ensureMin();
    }, LOAD_RETRY_MS);
    this.minTimer.unref();
  }
}
