import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { hostname } from 'os';
import { setTimeout as sleep } from 'timers/promises';
import {
  AttemptOutcome,
  InternalInvocationHeaders,
  InvocationResult,
  InvokerRoutes,
  SOURCE_TRIGGER_KINDS,
  storedPathProblem,
  TRIGGER_HEADER,
} from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { DeployerSettingsValues } from '../settings';
import { TopicPublisher } from '../sources/topic-publisher';
import { invocationBudgetMs, InvokerClient, InvokerUnavailableError } from '../triggers/invoker.client';
import { classify, failureMessage, nextStep, storableText, toResult } from './attempt-outcome';
import { FunctionPolicies, FunctionPolicy } from './function-policy';
import { InvocationEntity, StoredAttempt } from './invocation.entity';
import { DispatchMessage, InvocationQueue } from './invocation-queue';
import { AttemptEnd, InvocationStore } from './invocation.store';

/** A claim the database refused: the message goes back to the queue after this pause. */
const CLAIM_RETRY_MS = 1_000;
/** Over the function's in-flight limit: tried again this much later. */
const BUSY_RETRY_MS = 200;
/** Headers fetch sets itself, or refuses. */
const NOT_FORWARDED = new Set(['host', 'content-length', 'connection', 'transfer-encoding', 'keep-alive', 'upgrade', 'expect']);
const TRIGGER_SOURCES = new Set<string>(SOURCE_TRIGGER_KINDS);

interface AttemptReport {
  outcome: AttemptOutcome;
  statusCode: number | null;
  error: string | null;
  result: InvocationResult | null;
  version: number | null;
}

/**
 * Runs the attempts: takes ids off the work queue, claims the row (one deployer wins), calls the invoker, renews
 * the lease while it runs, and records how the attempt ended with an UPDATE fenced by its attempt number. The
 * message is acknowledged only once that is committed.
 */
@Injectable()
export class InvocationDispatcher {
  private readonly logger = new Logger(InvocationDispatcher.name);
  /** Who holds a lease: this process. */
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  /** Attempts under way here, by invocation id. */
  private readonly running = new Map<string, AbortController>();
  /** Attempts under way here, by function (claims included); the in-flight limit itself is counted across deployers at the claim. */
  private readonly inFlight = new Map<string, number>();
  private readonly handling = new Set<Promise<unknown>>();
  private stopping = false;
  /** Set when the shutdown grace ran out: whatever still runs is left to the lease. */
  private abandoned = false;

  constructor(
    @Inject(SETTINGS) private readonly settings: DeployerSettingsValues,
    private readonly store: InvocationStore,
    private readonly queue: InvocationQueue,
    private readonly policies: FunctionPolicies,
    private readonly invoker: InvokerClient,
    private readonly topics: TopicPublisher,
  ) {
    const { DEPLOYER_ASYNC_LEASE_MS: lease, DEPLOYER_ASYNC_LEASE_RENEW_MS: renew } = settings;
    if (renew * 2 > lease) {
      throw new Error(
        `DEPLOYER_ASYNC_LEASE_RENEW_MS=${renew} must be at most half of DEPLOYER_ASYNC_LEASE_MS=${lease}, or a lease runs out before it is renewed`,
      );
    }
  }

  start(): Promise<void> {
    this.stopping = false;
    this.abandoned = false;
    return this.queue.consume(this.settings.DEPLOYER_ASYNC_CONCURRENCY, (m) => this.track(this.handle(m)));
  }

  /** Ids of the attempts this process runs (the pump leaves their leases alone). */
  runningIds(): string[] {
    return [...this.running.keys()];
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.handling.add(p);
    void p.finally(() => this.handling.delete(p)).catch(() => undefined);
    return p;
  }

  async handle(m: DispatchMessage): Promise<'ack' | 'hold' | 'requeue'> {
    if (this.stopping) return 'hold';
    let policy: FunctionPolicy;
    try {
      policy = await this.policies.of(m.functionId);
    } catch (err) {
      return this.claimFailed(m, err);
    }
    // As many attempts run as its instances take, every deployer together: over it, back in a moment through the
    // pump. This process's own count spares the database the claims it would refuse anyway; the claim counts the
    // attempts running under a live lease across the replicas.
    if ((this.inFlight.get(m.functionId) ?? 0) >= policy.inFlightLimit) return this.postponeBusy(m);
    this.count(m.functionId, +1);
    let handedToRun = false;
    try {
      let row: InvocationEntity | null | 'busy';
      try {
        row = await this.store.claim(m.id, m.functionId, this.owner, this.settings.DEPLOYER_ASYNC_LEASE_MS, policy.inFlightLimit);
      } catch (err) {
        return await this.claimFailed(m, err);
      }
      if (row === 'busy') return await this.postponeBusy(m);
      // Cancelled, ended, running elsewhere, or not due yet (a retry's id handed over twice): nothing to do.
      if (!row) return 'ack';
      if (this.stopping) {
        // stop() came while this claimed: nobody would abort the attempt. Given back; the message goes to another deployer.
        await this.store.unclaim(row.id, row.attempts, row.attemptLog.length, this.owner);
        return 'hold';
      }
      handedToRun = true;
      return await this.run(row, policy).finally(() => this.count(m.functionId, -1));
    } finally {
      if (!handedToRun) this.count(m.functionId, -1);
    }
  }

  private async postponeBusy(m: DispatchMessage): Promise<'ack' | 'requeue'> {
    try {
      await this.store.postpone(m.id, BUSY_RETRY_MS);
      return 'ack';
    } catch (err) {
      return this.claimFailed(m, err);
    }
  }

  private count(functionId: string, delta: number): void {
    const n = (this.inFlight.get(functionId) ?? 0) + delta;
    if (n > 0) this.inFlight.set(functionId, n);
    else this.inFlight.delete(functionId);
  }

  /**
   * The database is down: acknowledged, the id would wait for the pump's redispatch; back to the queue instead,
   * after a pause (not a tight loop of redeliveries).
   */
  private async claimFailed(m: DispatchMessage, err: unknown): Promise<'requeue'> {
    this.logger.warn(`invocation ${m.id}: cannot claim it (${(err as Error).message}); back to the work queue in ${CLAIM_RETRY_MS} ms`);
    await sleep(CLAIM_RETRY_MS, undefined, { ref: false });
    return 'requeue';
  }

  private async run(row: InvocationEntity, policy: FunctionPolicy): Promise<'ack' | 'hold'> {
    const abort = new AbortController();
    this.running.set(row.id, abort);
    const number = row.attemptLog.length;
    const renew = setInterval(() => {
      this.store.renewLease(row.id, number, this.settings.DEPLOYER_ASYNC_LEASE_MS).then(
        (held) => {
          if (!held) {
            this.logger.warn(`invocation ${row.id}: attempt ${number} lost its lease; abandoning it`);
            abort.abort();
          }
        },
        (err) => this.logger.warn(`invocation ${row.id}: renewing the lease failed: ${(err as Error).message}`),
      );
    }, this.settings.DEPLOYER_ASYNC_LEASE_RENEW_MS);
    try {
      const started = row.attemptLog.at(-1)!;
      const t0 = Date.now();
      const report = await this.attempt(row, policy, started.number, abort.signal);
      // Stopping (or fenced off): nothing is recorded; the lease runs out and the attempt counts as interrupted.
      if (abort.signal.aborted) return this.stopping ? 'hold' : 'ack';
      const attempt: StoredAttempt = {
        ...started,
        outcome: report.outcome,
        endedAt: new Date().toISOString(),
        durationMs: Date.now() - t0,
        statusCode: report.statusCode,
        error: report.error,
      };
      const next = nextStep(report.outcome, row.retry, {
        attempts: row.attempts,
        maxAttempts: row.maxAttempts,
        startedAt: row.roundStartedAt,
        unavailableInARow: unavailableInARow(row.attemptLog.slice(0, -1)) + 1,
        unavailableDelayMs: this.settings.DEPLOYER_ASYNC_UNAVAILABLE_RETRY_MS,
      });
      const end: AttemptEnd = {
        id: row.id,
        attempts: row.attempts,
        attempt,
        status: next.status,
        delayMs: next.status === 'queued' ? next.delayMs : 0,
        counted: next.status !== 'queued' || next.counted,
        result: report.result,
        error: errorOf(next.status, report, row),
        version: report.version,
      };
      const done = await this.record(end);
      if (row.trigger && end.status !== 'queued') void this.topics.finished(row, end.status, end.result ?? null, end.error ?? null);
      return done;
    } finally {
      clearInterval(renew);
      this.running.delete(row.id);
    }
  }

  /**
   * The end of an attempt, committed; with the database down, tried again (holding the message) until it is. An end
   * Postgres refuses as data (SQLSTATE class 22, 54: a value it cannot store) would be refused forever: it is
   * recorded once more without the result, saying why. Any other refusal is given up on: the lease runs out and the
   * attempt counts as interrupted, instead of this one renewing its lease forever.
   */
  private async record(end: AttemptEnd): Promise<'ack' | 'hold'> {
    let stripped = false;
    for (let delay = 100; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        const recorded = await this.store.endAttempt(end);
        if (!recorded) this.logger.warn(`invocation ${end.id}: attempt ${end.attempt.number} ended after it was taken back; its outcome is dropped`);
        return 'ack';
      } catch (err) {
        if (this.abandoned) return 'hold';
        const code = sqlState(err);
        if (code && /^(22|54)/.test(code) && !stripped) {
          this.logger.warn(
            `invocation ${end.id}: the result of attempt ${end.attempt.number} cannot be stored (${(err as Error).message}); recording it without`,
          );
          end = notStorable(end, err as Error);
          stripped = true;
          continue;
        }
        if (code && !TRANSIENT_SQLSTATE.test(code)) {
          this.logger.error(
            `invocation ${end.id}: recording attempt ${end.attempt.number} was refused (${code}: ${(err as Error).message}); its lease will run out`,
          );
          return 'ack';
        }
        this.logger.warn(`invocation ${end.id}: recording attempt ${end.attempt.number} failed (${(err as Error).message}); trying again in ${delay} ms`);
        await sleep(delay);
      }
    }
  }

  private async attempt(row: InvocationEntity, policy: FunctionPolicy, number: number, signal: AbortSignal): Promise<AttemptReport> {
    const none = { statusCode: null, result: null, version: null };
    if (row.pinnedVersion !== null && policy.version !== row.pinnedVersion) {
      const deployed = policy.version === null ? 'the function is not deployed' : `version ${policy.version} is deployed`;
      return { ...none, outcome: 'unavailable', error: `this invocation runs version ${row.pinnedVersion} only, and ${deployed}` };
    }
    const req = row.request;
    // Checked at accept too: sent by fetch, a dot segment would reach another function or the invoker's own API.
    const pathProblem = storedPathProblem(req.path || '/');
    if (pathProblem) return { ...none, outcome: '4xx', error: `the stored request cannot be sent: ${pathProblem}` };
    const base = req.style === 'data' ? InvokerRoutes.invoke(row.functionId) : InvokerRoutes.http(row.functionId);
    const path = `${base}${req.path && req.path !== '/' ? req.path : req.style === 'http' ? '/' : ''}${req.query ? `?${req.query}` : ''}`;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (!NOT_FORWARDED.has(name)) headers[name] = value;
    headers[InternalInvocationHeaders.InvocationId] = row.id;
    headers[InternalInvocationHeaders.Attempt] = String(number);
    if (TRIGGER_SOURCES.has(row.source)) headers[TRIGGER_HEADER] = row.source;
    const body = Buffer.from(req.body, 'base64');
    const method = req.method.toUpperCase();
    let res: Response;
    try {
      res = await this.invoker.request(method, path, {
        raw: body.length && method !== 'GET' && method !== 'HEAD' ? body : undefined,
        headers,
        timeoutMs: invocationBudgetMs(policy.timeoutMs),
        signal,
      });
    } catch (err) {
      const timedOut = err instanceof InvokerUnavailableError && err.timedOut;
      return { ...none, outcome: timedOut ? 'timeout' : 'unavailable', error: (err as Error).message };
    }
    const answer: Record<string, string> = {};
    res.headers.forEach((value, name) => (answer[name] = value));
    const bytes = Buffer.from(await res.arrayBuffer().catch(() => new ArrayBuffer(0)));
    const message = res.ok ? null : failureMessage(res.status, bytes);
    const outcome = classify({ status: res.status, headers: answer, message: message ?? undefined });
    return {
      outcome,
      statusCode: res.status,
      error: outcome === 'succeeded' ? null : message,
      result: toResult(res.status, answer, bytes),
      version: policy.version,
    };
  }

  /**
   * Stops taking attempts; those running get DEPLOYER_ASYNC_SHUTDOWN_GRACE_MS to finish, the rest are abandoned
   * unrecorded (their messages stay unacknowledged and their leases run out, so another deployer takes them).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.running.size) {
      const idle = Promise.allSettled([...this.handling]);
      await Promise.race([idle, sleep(this.settings.DEPLOYER_ASYNC_SHUTDOWN_GRACE_MS, undefined, { ref: false })]);
    }
    this.abandoned = true;
    for (const abort of this.running.values()) abort.abort();
    await Promise.allSettled([...this.handling]);
    await this.queue.stopConsuming();
  }
}

/**
 * SQLSTATE classes worth retrying: connection (08), transaction rollback (40), resources (53), operator intervention
 * (57: the server shutting down), system (58). Errors without a SQLSTATE (a refused or dropped connection) are too.
 */
const TRANSIENT_SQLSTATE = /^(08|40|53|57|58)/;

function sqlState(err: unknown): string | undefined {
  const e = err as { code?: unknown; driverError?: { code?: unknown } };
  const code = e.driverError?.code ?? e.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** The end of an attempt whose result Postgres refused: the same outcome, no result, and why (storable). */
function notStorable(end: AttemptEnd, err: Error): AttemptEnd {
  const why = `the result of the attempt could not be stored: ${storableText(err.message, 500)}`;
  return {
    ...end,
    attempt: { ...end.attempt, error: storableText(end.attempt.error ?? why) },
    result: null,
    error: storableText(end.error ? `${end.error} (${why})` : why),
  };
}

/** Unavailable answers at the end of the log, in a row (their backoff grows with them). */
function unavailableInARow(log: StoredAttempt[]): number {
  let n = 0;
  for (let i = log.length - 1; i >= 0 && log[i].outcome === 'unavailable'; i--) n++;
  return n;
}

/** The row's error: why it failed or went dead; the last failure while it waits for a retry; none once it succeeded. */
function errorOf(status: AttemptEnd['status'], report: AttemptReport, row: InvocationEntity): string | null {
  if (status === 'succeeded') return null;
  if (status === 'dead') {
    const age = Date.now() - row.roundStartedAt.getTime();
    const why =
      row.attempts >= row.maxAttempts && report.outcome !== 'unavailable'
        ? `all ${row.maxAttempts} attempt(s) failed`
        : `it is too old to try again (${Math.round(age / 1000)} s, retry.maxAgeMs ${row.retry.maxAgeMs})`;
    return `${why}; the last one: ${report.outcome}: ${report.error ?? 'no reason given'}`;
  }
  return `${report.outcome}: ${report.error ?? 'no reason given'}`;
}
