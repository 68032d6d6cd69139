import { Inject, Injectable, Logger } from '@nestjs/common';
import { SETTINGS } from '@platform/config';
import { DeployerSettingsValues } from '../settings';
import { nextStep } from './attempt-outcome';
import { TopicPublisher } from '../sources/topic-publisher';
import { invocationBudgetMs } from '../triggers/invoker.client';
import { CallbackSender } from './callback-sender';
import { EventStoreClient } from './event-store.client';
import { FunctionPolicies } from './function-policy';
import { InvocationEntity } from './invocation.entity';
import { recordedAttempt, RecordedAttempt } from './invocation-view';

/** How long after a lease ended an attempt with no record at all still counts as possibly recorded soon. */
const RECORD_LAG_MS = 5_000;
import { InvocationDispatcher } from './invocation-dispatcher';
import { InvocationQueue } from './invocation-queue';
import { InvocationStore } from './invocation.store';

/** Rows each step handles per round. */
const BATCH = 200;
/** Callbacks one deployer delivers at once: each may take DEPLOYER_CALLBACK_TIMEOUT_MS. */
const CALLBACK_CONCURRENCY = 64;
/** A queued row handed to the work queue this long ago and still waiting, with the queue empty, was lost by it: handed over again. */
const REDISPATCH_AFTER_MS = 60_000;

/** The broker refused a publish (not the database). */
class NotPublishedError extends Error {}

/**
 * Makes Postgres, not the queue, the record of truth. Every DEPLOYER_ASYNC_PUMP_INTERVAL_MS each deployer:
 * (a) hands the ids of due queued rows to the work queue (retries whose delay ended, publishes that failed after
 * the commit, invocations postponed by the in-flight limit); (b) takes back attempts whose lease ran out (their
 * deployer died) as interrupted; (c) delivers due callbacks; (d) now and then removes finished invocations past
 * DEPLOYER_ASYNC_RETENTION_MS. Rows are locked with SKIP LOCKED, so replicas share
 * the work.
 */
@Injectable()
export class InvocationPump {
  private readonly logger = new Logger(InvocationPump.name);
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;
  private stopped = true;
  private readonly deliveries = new Set<Promise<void>>();
  private toppingUp = false;
  /** Cuts the deliveries at stop(); a new one for every start() (an aborted signal stays aborted). */
  private abort = new AbortController();
  private lastProblem = '';
  /**
   * Until then leases are not taken back: this pump just lost the database, so the deployers running attempts
   * likely lost it too and could not renew; they get one lease length to record what they have.
   */
  private takeBackAfter = 0;
  private lastRemoval = 0;

  constructor(
    @Inject(SETTINGS) private readonly settings: DeployerSettingsValues,
    private readonly store: InvocationStore,
    private readonly queue: InvocationQueue,
    private readonly dispatcher: InvocationDispatcher,
    private readonly callbacks: CallbackSender,
    private readonly events: EventStoreClient,
    private readonly policies: FunctionPolicies,
    private readonly topics: TopicPublisher,
  ) {}

  start(): void {
    this.stopped = false;
    this.abort = new AbortController();
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.round = this.tick().finally(() => {
        this.round = undefined;
        this.schedule(this.settings.DEPLOYER_ASYNC_PUMP_INTERVAL_MS);
      });
    }, ms);
  }

  /** One round of the three steps; a step that fails (database or broker down) is logged once and tried next round. */
  async tick(): Promise<void> {
    const problems: string[] = [];
    for (const [what, step] of [
      ['dispatching due invocations', () => this.dispatchDue()],
      ['taking back expired leases', () => this.takeBackExpired()],
      ['delivering callbacks', () => this.deliverCallbacks()],
      ['removing old finished invocations', () => this.removeOld()],
    ] as const) {
      try {
        await step();
      } catch (err) {
        problems.push(`${what}: ${(err as Error).message}`);
        if (!(err instanceof NotPublishedError)) this.takeBackAfter = Date.now() + this.settings.DEPLOYER_ASYNC_LEASE_MS;
      }
    }
    const problem = problems.join('; ');
    if (problem && problem !== this.lastProblem) this.logger.warn(problem);
    this.lastProblem = problem;
  }

  /** Marks first (committed at once, no lock held while publishing), publishes, then gives back the marks of failures. */
  private async dispatchDue(): Promise<void> {
    // Handed over long ago and still queued: lost by the queue, or waiting in it behind a backlog. Handed over
    // again only when the queue holds nothing, or every backlog would grow by duplicates each minute.
    const empty = await this.queue.messageCount().then(
      (n) => n === 0,
      () => false,
    );
    const { due, markedAt } = await this.store.markDueForDispatch(empty ? REDISPATCH_AFTER_MS : null, BATCH);
    if (!due.length || !markedAt) return;
    const results = await Promise.allSettled(due.map((m) => this.queue.publish(m)));
    const failed = due.filter((_, i) => results[i].status === 'rejected');
    if (!failed.length) return;
    await this.store.unmarkDispatched(
      failed.map((m) => m.id),
      markedAt,
    );
    const reason = (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason as Error;
    throw new NotPublishedError(`${failed.length} of ${due.length} could not be published: ${reason.message}`);
  }

  /**
   * Attempts whose deployer stopped renewing their lease. Before one counts as interrupted (and runs again), the
   * event store is asked how it went: the invoker runs an attempt to its end and records it even when the deployer
   * that asked died meanwhile, so an attempt that ended is recorded as it ended (a scheduled tick runs once, not
   * twice), and one the invoker still runs is left until the function's time limit is spent. Only an attempt the
   * invoker has no record of, or that overran its time, is interrupted; when the event store does not answer, it is
   * too (at least once).
   */
  private async takeBackExpired(): Promise<void> {
    if (Date.now() < this.takeBackAfter) return;
    await this.store.transaction(async (em) => {
      for (const row of await this.store.expiredLeases(em, this.dispatcher.runningIds(), BATCH)) {
        const started = row.attemptLog.at(-1);
        const number = started?.number ?? row.attempts;
        const endedAt = new Date();
        const startedAt = started?.startedAt ?? endedAt.toISOString();
        const recorded = await this.recordedEnd(row, number, startedAt);
        if (recorded === 'running') continue;
        const outcome = recorded?.outcome ?? 'interrupted';
        const error = recorded?.error ?? (recorded ? null : `the deployer running it (${row.owner ?? 'unknown'}) stopped answering; its lease ended`);
        const next = nextStep(outcome, row.retry, { attempts: row.attempts, maxAttempts: row.maxAttempts, startedAt: row.roundStartedAt });
        const last = `${outcome}: ${error ?? 'no reason given'}`;
        await this.store.endAttempt(
          {
            id: row.id,
            attempts: row.attempts,
            attempt: {
              number,
              startedAt,
              outcome,
              endedAt: endedAt.toISOString(),
              durationMs: recorded?.durationMs ?? (started ? endedAt.getTime() - new Date(started.startedAt).getTime() : null),
              statusCode: recorded?.statusCode ?? null,
              error,
            },
            // Taken back at once: its retry delay was spent waiting for the lease.
            status: next.status,
            delayMs: 0,
            result: recorded?.result ?? null,
            error: next.status === 'succeeded' ? null : next.status === 'dead' ? `all ${row.maxAttempts} attempt(s) failed; the last one: ${last}` : last,
          },
          em,
        );
        if (row.trigger && next.status !== 'queued') void this.topics.finished(row, next.status, recorded?.result ?? null, error);
        this.logger.warn(
          `invocation ${row.id}: attempt ${number} lost its deployer (lease of ${row.owner} ended); ` +
            `${recorded ? `the invoker recorded it ${outcome}` : 'interrupted'}; now ${next.status}`,
        );
      }
    });
  }

  /** The attempt as the invoker recorded it; 'running' while it may still run there; null: no record (or no answer). */
  private async recordedEnd(row: InvocationEntity, number: number, startedAt: string): Promise<RecordedAttempt> {
    const { id, functionId } = row;
    let events;
    try {
      events = await this.events.eventsOf(id);
    } catch (err) {
      this.logger.warn(`invocation ${id}: the event store did not say how attempt ${number} ended (${(err as Error).message}); it counts as interrupted`);
      return null;
    }
    const recorded = recordedAttempt(events, number);
    // The invoker's events reach the event store a moment after the answer: no record yet is no proof it did not run.
    if (recorded === null) return Date.now() - (row.leaseUntil?.getTime() ?? 0) < RECORD_LAG_MS ? 'running' : null;
    if (recorded !== 'running') return recorded;
    const timeoutMs = await this.policies.of(functionId).then(
      (p) => p.timeoutMs,
      () => 0,
    );
    return Date.now() - new Date(startedAt).getTime() < invocationBudgetMs(timeoutMs) ? 'running' : null;
  }

  private async deliverCallbacks(): Promise<void> {
    // Only as many as there are free slots: a claimed callback not delivered within its hold would be delivered
    // by another deployer too. Held past one delivery's time limit, so no other deployer delivers it meanwhile.
    const free = CALLBACK_CONCURRENCY - this.deliveries.size;
    if (free <= 0) return;
    const rows = await this.store.claimCallbacks(this.settings.DEPLOYER_CALLBACK_TIMEOUT_MS + 5_000, free);
    for (const row of rows) {
      const delivery = this.callbacks
        .deliver(row, this.abort.signal)
        .catch((err) => this.logger.warn(`invocation ${row.id}: callback not recorded: ${(err as Error).message}`))
        .finally(() => {
          this.deliveries.delete(delivery);
          this.topUp();
        });
      this.deliveries.add(delivery);
    }
  }

  /**
   * A delivery ended: its slot takes the next due callback now rather than at the next round (callbacks were held to
   * CALLBACK_CONCURRENCY per round, 64 a second). One claim at a time; it stops when none is due.
   */
  private topUp(): void {
    if (this.stopped || this.toppingUp) return;
    this.toppingUp = true;
    setImmediate(() => {
      if (this.stopped) return void (this.toppingUp = false);
      this.deliverCallbacks()
        .catch(() => undefined)
        .finally(() => (this.toppingUp = false));
    });
  }

  /** Retention: at most once a minute (or once per retention period when that is shorter). */
  private async removeOld(): Promise<void> {
    const retention = this.settings.DEPLOYER_ASYNC_RETENTION_MS;
    if (Date.now() - this.lastRemoval < Math.min(60_000, retention)) return;
    this.lastRemoval = Date.now();
    const removed = await this.store.removeFinished(retention, 1_000);
    if (removed) this.logger.log(`removed ${removed} invocation(s) finished more than ${retention} ms ago`);
  }

  /** Stops the rounds; callbacks being delivered are cut (they stay pending and are delivered again later). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
    clearTimeout(this.timer);
    this.abort.abort();
    await Promise.allSettled([...this.deliveries]);
  }
}
