import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import * as os from 'os';
import * as path from 'path';
import { EventNames, InvocationMetadata, newEvent, PlatformEvent } from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { EventJournal, EventPublisher, JournalTicket } from '@platform/messaging';
import type { InvokerSettingsValues } from '../settings';
import { functionContract } from '@platform/runtimes';
import type { InvocationOutcome } from './outcome';

/** Payloads, responses and logs above this are cut, with a marker saying how much was cut. */
export const EVENT_FIELD_LIMIT = 64 * 1024;
/** Events are handed to the broker in small batches: one wake-up of the broker for many invocations. */
const FLUSH_MS = 25;
const FLUSH_AT = 256;
/** Recovered events go back to the broker this many at a time. */
const REPLAY_CHUNK = 500;
/** The sweep that publishes the PENDING events of slow invocations runs at most this often. */
const SWEEP_MIN_MS = 10;

export type Trigger = NonNullable<InvocationMetadata['trigger']>;

export interface InvocationFacts {
  functionId: string;
  /** The function's label: the routing key's last word and the CloudEvent's subject. */
  label: string;
  version: number;
  deploymentId: string;
  invocationId: string;
  trigger: Trigger;
  /** The attempt of an async invocation (x-hks-attempt from the deployer): its events' metadata.attempt. */
  attempt?: number;
  /** The W3C traceparent of the invoker's span of it: its events record the trace (metadata.traceId, traceparent). */
  traceparent?: string;
  /** The request as the handler saw it; set by started() so the result event carries it. */
  input?: unknown;
  inputBytes?: number;
  /** When started() was called (Date.now()): the PENDING event's timestamp, if one is published. */
  startedAt?: number;
  /** `input` as an event field (cut when large): built once, for the pending event if any, and reused by the result's. */
  payload?: unknown;
  /** Set once the invocation ran past the threshold: its PENDING event, and when the broker (or its spool) has it. */
  pendingEvent?: PlatformEvent;
  pendingHandedOver?: Promise<void>;
}

function boundedText(text: string): string {
  return text.length <= EVENT_FIELD_LIMIT ? text : `${text.slice(0, EVENT_FIELD_LIMIT)}\n...[truncated: ${text.length} characters in all]`;
}

/** A value for an event field; `approxBytes` (the request's size) spares serialising small ones to measure them. */
function boundedValue(value: unknown, approxBytes: number): unknown {
  if (approxBytes <= EVENT_FIELD_LIMIT / 2) return value;
  const text = JSON.stringify(value) ?? 'null';
  return text.length <= EVENT_FIELD_LIMIT ? value : boundedText(text);
}

function responseOf(o: InvocationOutcome): unknown {
  if (o.json && o.body.length <= EVENT_FIELD_LIMIT) {
    try {
      return JSON.parse(o.body.toString('utf8'));
    } catch {
      // Not JSON after all: recorded as an HTTP response below.
    }
  }
  const contentType = String(o.headers['content-type'] ?? '');
  const text = functionContract.bodyIsText(contentType, o.body);
  return {
    statusCode: o.statusCode,
    headers: o.headers,
    body: boundedText(o.body.toString(text ? 'utf8' : 'base64')),
    isBase64Encoded: !text,
  };
}

/**
 * One event per invocation: invocation.succeeded|failed when it ends, carrying the request, the
 * response, the duration and the logs. An invocation still running INVOKER_PENDING_EVENT_AFTER_MS
 * after it started also gets an invocation.pending (timestamped with its start), so live views see
 * long invocations begin; a fast one does not (it would double the events for no reader: its result
 * comes within the threshold). 0 publishes the pending event of every invocation at once.
 *
 * Durability: `finished` writes the result event (with the pending one, if it was published) to the
 * local write-ahead log (EventJournal, group commit) and resolves once it is on disk; the answer goes
 * out only then, so an answered invocation always has its result event, even through kill -9. The
 * broker gets events in small batches off the answer's path; once it confirmed them (or the publisher
 * spooled them), the journal lets them go. At start, what an earlier process left in the journal is
 * published again.
 */
@Injectable()
export class InvocationRecorder implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger(InvocationRecorder.name);
  private batch: PlatformEvent[] = [];
  private batchDone?: { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void };
  private timer?: NodeJS.Timeout;
  private readonly journal?: EventJournal;
  private recovered: number[] = [];
  /** Handovers to the broker not yet settled (awaited at shutdown). */
  private readonly handovers = new Set<Promise<unknown>>();
  private readonly pendingAfterMs: number;
  /** Running invocations whose PENDING event is not published yet, oldest first (a Set keeps insertion order). */
  private readonly running = new Set<InvocationFacts>();
  private sweepTimer?: NodeJS.Timeout;

  constructor(
    private readonly publisher: EventPublisher,
    @Inject(SETTINGS) settings: InvokerSettingsValues,
  ) {
    this.pendingAfterMs = settings.INVOKER_PENDING_EVENT_AFTER_MS;
    const mode = settings.INVOKER_EVENT_JOURNAL;
    if (mode !== 'off') {
      const dir = path.resolve(settings.HKS_DATA_DIR, 'wal', `invoker-${os.hostname()}`);
      this.journal = new EventJournal(dir, mode === 'fsync' ? 'each' : { everyMs: settings.INVOKER_EVENT_JOURNAL_SYNC_MS });
    }
  }

  async onModuleInit(): Promise<void> {
    if (this.journal) this.recovered = await this.journal.open();
  }

  /** What an earlier process journaled and the broker may not have: published again while this one serves. */
  onApplicationBootstrap(): void {
    if (this.recovered.length) void this.track(this.replay(this.recovered));
    this.recovered = [];
  }

  private async replay(seqs: number[]): Promise<void> {
    const journal = this.journal!;
    try {
      const events = await journal.recover(seqs);
      for (let i = 0; i < events.length; i += REPLAY_CHUNK) await this.publisher.publishMany(events.slice(i, i + REPLAY_CHUNK));
      await journal.dropRecovered(seqs);
      this.logger.log(`replayed ${events.length} invocation events an earlier invoker process journaled (${seqs.length} segment(s))`);
    } catch (err) {
      this.logger.error(`replaying the event journal failed (kept for the next start): ${(err as Error).message}`);
    }
  }

  /** The invocation started: its PENDING event is published if it is still running after the threshold. */
  started(f: InvocationFacts, input: unknown, approxBytes: number): void {
    f.input = input;
    f.inputBytes = approxBytes;
    f.startedAt = Date.now();
    if (this.pendingAfterMs === 0) return this.publishPending(f);
    this.running.add(f);
    if (!this.sweepTimer) this.armSweep(this.pendingAfterMs);
  }

  private armSweep(ms: number): void {
    this.sweepTimer = setTimeout(() => this.sweep(), Math.max(ms, SWEEP_MIN_MS));
    // Not a reason to keep the process up: at shutdown the drain answers (and records) what still runs.
    this.sweepTimer.unref();
  }

  /** Publishes the PENDING events now due, oldest first, and waits for the next one. */
  private sweep(): void {
    this.sweepTimer = undefined;
    const due = Date.now() - this.pendingAfterMs;
    for (const f of this.running) {
      if (f.startedAt! > due) return this.armSweep(f.startedAt! - due);
      this.running.delete(f);
      this.publishPending(f);
    }
  }

  private publishPending(f: InvocationFacts): void {
    f.pendingEvent = newEvent({
      name: EventNames.InvocationPending,
      type: 'FUNCTION_INVOCATION',
      status: 'PENDING',
      source: 'invoker',
      timestamp: new Date(f.startedAt!).toISOString(),
      functionId: f.functionId,
      functionLabel: f.label,
      invocationId: f.invocationId,
      payload: (f.payload = boundedValue(f.input, f.inputBytes ?? 0)),
      metadata: {
        trigger: f.trigger,
        version: f.version,
        deploymentId: f.deploymentId,
        ...(f.attempt ? { attempt: f.attempt } : {}),
        ...traceOf(f),
      },
    });
    f.pendingHandedOver = this.add(f.pendingEvent);
  }

  /**
   * Records how the invocation ended. Resolves once its events are durable (journaled, or with the
   * journal off at once): the caller answers after that.
   */
  finished(f: InvocationFacts, o: InvocationOutcome, durationMs: number): Promise<void> {
    this.running.delete(f);
    const result = this.resultEvent(f, o, durationMs);
    if (!this.journal) {
      // Journal off: the answer does not wait for the broker; the publisher keeps the batch in flight (or spools
      // it) and flushes it at shutdown.
      void this.add(result);
      return Promise.resolve();
    }
    const events = f.pendingEvent ? [f.pendingEvent, result] : [result];
    const journaled = this.journal.append(events).then(
      (ticket) => this.afterJournal(ticket, f, result),
      // No journal (disk full, I/O error): the answer waits for the broker (or the spool) instead.
      () => this.track(Promise.all([f.pendingHandedOver, this.add(result)])).then(() => undefined),
    );
    return journaled;
  }

  private afterJournal(ticket: JournalTicket, f: InvocationFacts, result: PlatformEvent): void {
    const journal = this.journal!;
    void this.track(Promise.all([f.pendingHandedOver, this.add(result)]).then(() => journal.release(ticket)));
  }

  private resultEvent(f: InvocationFacts, o: InvocationOutcome, durationMs: number): PlatformEvent {
    const failed = o.error !== undefined;
    const metadata: InvocationMetadata & Record<string, unknown> = {
      coldStart: o.coldStart,
      startMs: o.startMs,
      workerId: o.workerId,
      logs: boundedText(o.logs),
      trigger: f.trigger,
      version: f.version,
      reason: o.reason,
      statusCode: o.statusCode,
      deploymentId: f.deploymentId,
      ...(f.attempt ? { attempt: f.attempt } : {}),
      ...traceOf(f),
    };
    return newEvent({
      name: failed ? EventNames.InvocationFailed : EventNames.InvocationSucceeded,
      type: 'FUNCTION_INVOCATION',
      status: failed ? 'FAILURE' : 'SUCCESS',
      source: 'invoker',
      timestamp: new Date().toISOString(),
      functionId: f.functionId,
      functionLabel: f.label,
      invocationId: f.invocationId,
      // The result stands on its own: request and response side by side.
      payload: f.input === undefined ? null : (f.payload ??= boundedValue(f.input, f.inputBytes ?? 0)),
      response: responseOf(o),
      processingTimeMs: Math.round(durationMs * 1000) / 1000,
      error: o.error ?? null,
      metadata,
    });
  }

  /** Queues an event for the next batch; resolves once the broker confirmed it (or it was spooled). */
  private add(event: PlatformEvent): Promise<void> {
    this.batch.push(event);
    if (!this.batchDone) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      // Its failure is logged where it is awaited (track); an invocation cut short may never await it.
      promise.catch(() => undefined);
      this.batchDone = { promise, resolve, reject };
    }
    const done = this.batchDone.promise;
    if (this.batch.length >= FLUSH_AT) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
    return done;
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.batch;
    const done = this.batchDone;
    this.batch = [];
    this.batchDone = undefined;
    if (!done) return;
    this.publisher.publishMany(batch).then(done.resolve, done.reject);
  }

  /** Keeps p for close() to wait on and logs its failure, so a caller that does not await it may drop it. */
  private track<T>(p: Promise<T>): Promise<T> {
    const settled = p.catch((err) => this.logger.error(`invocation events not handed to the broker: ${(err as Error).message}`));
    this.handovers.add(settled);
    void settled.then(() => this.handovers.delete(settled));
    return p;
  }

  /**
   * At shutdown, once no answer is pending any more: every event goes to the broker (or its spool),
   * then the journal closes (deleting what the broker has). Called by the InvokeServer's drain.
   */
  async close(): Promise<void> {
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.flush();
    while (this.handovers.size) await Promise.allSettled([...this.handovers]);
    await this.journal?.close();
  }
}

/** The trace an invocation's events carry: its id (what `hks function logs` shows) and the invoker span's traceparent. */
function traceOf(f: InvocationFacts): { traceId?: string; traceparent?: string } {
  return f.traceparent ? { traceId: f.traceparent.slice(3, 35), traceparent: f.traceparent } : {};
}
