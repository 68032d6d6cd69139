import { Inject, Injectable, Logger } from '@nestjs/common';
import { SETTINGS } from '@platform/config';
import { DeployerSettingsValues } from '../settings';
import { nextStep } from './attempt-outcome';
import { CallbackSender } from './callback-sender';
import { InvocationDispatcher } from './invocation-dispatcher';
import { InvocationQueue } from './invocation-queue';
import { InvocationStore } from './invocation.store';

/** Rows each step handles per round. */
const BATCH = 200;
/** A queued row handed to the work queue this long ago and still waiting was lost by it: handed over again. */
const REDISPATCH_AFTER_MS = 60_000;

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
  private readonly abort = new AbortController();
  private lastProblem = '';
  private lastRemoval = 0;

  constructor(
    @Inject(SETTINGS) private readonly settings: DeployerSettingsValues,
    private readonly store: InvocationStore,
    private readonly queue: InvocationQueue,
    private readonly dispatcher: InvocationDispatcher,
    private readonly callbacks: CallbackSender,
  ) {}

  start(): void {
    this.stopped = false;
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
      }
    }
    const problem = problems.join('; ');
    if (problem && problem !== this.lastProblem) this.logger.warn(problem);
    this.lastProblem = problem;
  }

  private async dispatchDue(): Promise<void> {
    await this.store.transaction(async (em) => {
      const due = await this.store.dueForDispatch(em, REDISPATCH_AFTER_MS, BATCH);
      if (!due.length) return;
      const sent: string[] = [];
      const results = await Promise.allSettled(due.map((r) => this.queue.publish({ id: r.id, functionId: r.function_id }).then(() => sent.push(r.id))));
      if (sent.length) await em.query(`UPDATE "deployer"."invocations" SET dispatched_at = now() WHERE id = ANY($1::uuid[])`, [sent]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw new Error(`${due.length - sent.length} could not be published: ${(failed.reason as Error).message}`);
    });
  }

  private async takeBackExpired(): Promise<void> {
    await this.store.transaction(async (em) => {
      for (const row of await this.store.expiredLeases(em, this.dispatcher.runningIds(), BATCH)) {
        const started = row.attemptLog.at(-1);
        const error = `the deployer running it (${row.owner ?? 'unknown'}) stopped answering; its lease ended`;
        const next = nextStep('interrupted', row.retry, row.attempts, row.maxAttempts, row.acceptedAt);
        const endedAt = new Date();
        await this.store.endAttempt(
          {
            id: row.id,
            attempts: row.attempts,
            attempt: {
              number: started?.number ?? row.attempts,
              startedAt: started?.startedAt ?? endedAt.toISOString(),
              outcome: 'interrupted',
              endedAt: endedAt.toISOString(),
              durationMs: started ? endedAt.getTime() - new Date(started.startedAt).getTime() : null,
              statusCode: null,
              error,
            },
            // Taken back at once: its retry delay was spent waiting for the lease.
            status: next.status,
            delayMs: 0,
            result: null,
            error: next.status === 'dead' ? `all ${row.maxAttempts} attempt(s) failed; the last one: interrupted: ${error}` : `interrupted: ${error}`,
          },
          em,
        );
        this.logger.warn(`invocation ${row.id}: attempt ${row.attempts} was interrupted (lease of ${row.owner} ended); now ${next.status}`);
      }
    });
  }

  private async deliverCallbacks(): Promise<void> {
    // Held past one delivery's time limit, so no other deployer delivers the same callback meanwhile.
    const rows = await this.store.claimCallbacks(this.settings.DEPLOYER_CALLBACK_TIMEOUT_MS + 5_000, BATCH);
    for (const row of rows) {
      const delivery = this.callbacks
        .deliver(row, this.abort.signal)
        .catch((err) => this.logger.warn(`invocation ${row.id}: callback not recorded: ${(err as Error).message}`))
        .finally(() => this.deliveries.delete(delivery));
      this.deliveries.add(delivery);
    }
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
