import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, FindOptionsSelect, Repository } from 'typeorm';
import { InvocationResult, InvocationStatus, isUuid, StoredRequest } from '@platform/contracts';
import { InvocationEntity, StoredAttempt } from './invocation.entity';
import type { DispatchMessage } from './invocation-queue';

const T = '"deployer"."invocations"';
/** Statuses that count against the queue bounds. */
const PENDING = `status IN ('queued', 'running')`;
/** On a final status, a callback (when one was asked for) becomes due now. */
const CALLBACK_DUE = `callback_status = CASE WHEN callback_url IS NULL THEN NULL ELSE 'pending' END,
  callback_due_at = CASE WHEN callback_url IS NULL THEN NULL ELSE now() END, callback_attempts = 0, callback_last_error = NULL,
  callback_round = CASE WHEN callback_url IS NULL THEN callback_round ELSE callback_round + 1 END`;

export interface AttemptEnd {
  id: string;
  /** The attempt count the claim returned: the fence. */
  attempts: number;
  attempt: StoredAttempt;
  status: 'queued' | 'succeeded' | 'failed' | 'dead';
  delayMs?: number;
  /** false: the attempt does not use one of max_attempts (the platform was unavailable; the function did not run). */
  counted?: boolean;
  result?: InvocationResult | null;
  error?: string | null;
  version?: number | null;
}

/** An id to hand to the work queue, with the length of its attempt log then (what markDispatched is fenced by). */
export interface PendingDispatch extends DispatchMessage {
  logLength: number;
}

export interface ListFilter {
  functionId?: string;
  status?: InvocationStatus;
  before?: { acceptedAt: Date; id: string };
  limit: number;
}

/**
 * The invocations table. Claims, lease renewals and the end of an attempt are single conditional UPDATEs: an
 * UPDATE that finds nothing means someone else (another deployer, a cancel, the pump) got there first.
 */
@Injectable()
export class InvocationStore {
  readonly repo: Repository<InvocationEntity>;

  constructor(@InjectDataSource() private readonly ds: DataSource) {
    this.repo = ds.getRepository(InvocationEntity);
  }

  transaction<R>(work: (em: EntityManager) => Promise<R>): Promise<R> {
    return this.ds.transaction(work);
  }

  get(id: string): Promise<InvocationEntity | null> {
    return isUuid(id) ? this.repo.findOneBy({ id }) : Promise.resolve(null);
  }

  /** Queued or running invocations of the function, counted up to `cap` (a full queue costs no more; a partial index). */
  async functionPending(functionId: string, cap: number): Promise<number> {
    const [row] = (await this.ds.query(`SELECT count(*)::int AS n FROM (SELECT 1 FROM ${T} WHERE function_id = $1 AND ${PENDING} LIMIT $2) f`, [
      functionId,
      cap,
    ])) as Array<{ n: number }>;
    return row.n;
  }

  /** Queued or running invocations of every function, counted up to `cap`. */
  async allPending(cap: number): Promise<number> {
    const [row] = (await this.ds.query(`SELECT count(*)::int AS n FROM (SELECT 1 FROM ${T} WHERE ${PENDING} LIMIT $1) a`, [cap])) as Array<{
      n: number;
    }>;
    return row.n;
  }

  /** Finished invocations older than `retentionMs` go (their idempotency keys with them), `limit` at a time. */
  async removeFinished(retentionMs: number, limit: number): Promise<number> {
    const [, n] = (await this.ds.query(
      `DELETE FROM ${T} WHERE id IN (
         SELECT id FROM ${T} WHERE finished_at < now() - make_interval(secs => $1::float8 / 1000)
           AND (callback_status IS NULL OR callback_status <> 'pending')
         ORDER BY finished_at LIMIT $2)`,
      [retentionMs, limit],
    )) as [unknown, number];
    return n;
  }

  /**
   * Marks ids as handed to the work queue, only those still waiting for the attempt they were handed over for: a
   * first attempt that already ran and failed with a short retry must stay unmarked, or the pump would wait
   * minutes before handing its retry over.
   */
  async markDispatched(handed: PendingDispatch[]): Promise<void> {
    if (!handed.length) return;
    await this.ds.query(
      `UPDATE ${T} t SET dispatched_at = now() FROM unnest($1::uuid[], $2::int[]) AS d(id, n)
       WHERE t.id = d.id AND t.status = 'queued' AND jsonb_array_length(t.attempt_log) = d.n`,
      [handed.map((h) => h.id), handed.map((h) => h.logLength)],
    );
  }

  /**
   * Starts attempt n+1 if the invocation is queued and due: one conditional UPDATE (the dispatcher keeps to the
   * function's in-flight limit itself). Returns the row as claimed, or null when there is nothing to claim.
   */
  /**
   * Takes a queued attempt for `owner` under a lease; null when it is not there to take (ended, running elsewhere,
   * not due). With `inFlightLimit`, 'busy' when the function already has that many attempts running, every deployer
   * together: rows running under a lease not yet run out, so the slots of a deployer that died come back with its
   * leases. Claims of one function take turns on an advisory lock (a count then an UPDATE is not atomic otherwise).
   */
  async claim(id: string, functionId: string, owner: string, leaseMs: number, inFlightLimit?: number): Promise<InvocationEntity | null | 'busy'> {
    const claimed = await this.ds.transaction(async (em) => {
      if (inFlightLimit !== undefined) {
        await em.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`hks.deployer.in-flight:${functionId}`]);
        const [{ running }] = (await em.query(
          `SELECT count(*)::int AS running FROM ${T} WHERE function_id = $1 AND status = 'running' AND lease_until > now()`,
          [functionId],
        )) as Array<{ running: number }>;
        if (running >= inFlightLimit) return 'busy' as const;
      }
      return this.claimRow(em, id, functionId, owner, leaseMs);
    });
    if (claimed === 'busy') return 'busy';
    return claimed ? this.repo.findOneBy({ id }) : null;
  }

  private async claimRow(em: EntityManager, id: string, functionId: string, owner: string, leaseMs: number): Promise<boolean> {
    const [rows] = (await em.query(
      `UPDATE ${T} SET status = 'running', attempts = attempts + 1, owner = $2, lease_until = now() + make_interval(secs => $3::float8 / 1000),
         attempt_log = attempt_log || jsonb_build_array(jsonb_build_object(
           'number', jsonb_array_length(attempt_log) + 1, 'outcome', NULL, 'startedAt', to_jsonb(now()),
           'endedAt', NULL, 'durationMs', NULL, 'statusCode', NULL, 'error', NULL))
       WHERE id = $1 AND function_id = $4 AND status = 'queued' AND due_at <= now() + interval '1 second'
       RETURNING id`,
      [id, owner, leaseMs, functionId],
    )) as [Array<{ id: string }>, number];
    return rows.length > 0;
  }

  /** Gives a claim back before its attempt started (the deployer is stopping): queued, as if never claimed. */
  async unclaim(id: string, attempts: number, number: number, owner: string): Promise<boolean> {
    const [, n] = (await this.ds.query(
      `UPDATE ${T} SET status = 'queued', attempts = attempts - 1, attempt_log = attempt_log - (jsonb_array_length(attempt_log) - 1),
         owner = NULL, lease_until = NULL
       WHERE id = $1 AND attempts = $2 AND jsonb_array_length(attempt_log) = $3 AND status = 'running' AND owner = $4`,
      [id, attempts, number, owner],
    )) as [unknown, number];
    return n > 0;
  }

  /** Over the function's in-flight limit: back in a moment, through the pump. */
  async postpone(id: string, ms: number): Promise<void> {
    await this.ds.query(
      `UPDATE ${T} SET due_at = now() + make_interval(secs => $2::float8 / 1000), dispatched_at = NULL
       WHERE id = $1 AND status = 'queued' AND due_at <= now() + interval '1 second'`,
      [id, ms],
    );
  }

  /** `number`: the attempt's number in the log, which (unlike `attempts`, reset by a redrive) never repeats. */
  async renewLease(id: string, number: number, leaseMs: number): Promise<boolean> {
    const [, n] = (await this.ds.query(
      `UPDATE ${T} SET lease_until = now() + make_interval(secs => $3::float8 / 1000)
       WHERE id = $1 AND jsonb_array_length(attempt_log) = $2 AND status = 'running'`,
      [id, number, leaseMs],
    )) as [unknown, number];
    return n > 0;
  }

  /**
   * Records how the attempt ended, if it is still this attempt (its round's count and its number in the log: a
   * redrive starts the count again, the log never); false when fenced off (someone took it back). A late end is
   * still taken when a pump took the attempt back as interrupted (its deployer lost the database, not the attempt)
   * and no new attempt started since: the real outcome beats running the function again.
   */
  async endAttempt(e: AttemptEnd, em?: EntityManager): Promise<boolean> {
    const final = e.status !== 'queued';
    const [, n] = (await (em ?? this.ds).query(
      `UPDATE ${T} SET status = $3, owner = NULL, lease_until = NULL, attempts = attempts - $10::int,
         attempt_log = jsonb_set(attempt_log, ARRAY[(jsonb_array_length(attempt_log) - 1)::text], $4::jsonb),
         due_at = CASE WHEN $3 = 'queued' THEN now() + make_interval(secs => $5::float8 / 1000) ELSE due_at END,
         dispatched_at = NULL,
         result = $6::jsonb, error = $7, version = COALESCE($8, version)
         ${final ? `, finished_at = now(), ${CALLBACK_DUE}` : ''}
       WHERE id = $1 AND attempts = $2 AND jsonb_array_length(attempt_log) = $9
         AND (status = 'running' OR (status = 'queued' AND $4::jsonb->>'outcome' <> 'interrupted' AND attempt_log->-1->>'outcome' = 'interrupted'))`,
      [
        e.id,
        e.attempts,
        e.status,
        JSON.stringify(e.attempt),
        e.delayMs ?? 0,
        e.result ? JSON.stringify(e.result) : null,
        e.error ?? null,
        e.version ?? null,
        e.attempt.number,
        e.counted === false ? 1 : 0,
      ],
    )) as [unknown, number];
    return n > 0;
  }

  async cancel(id: string): Promise<InvocationEntity | null> {
    const [rows] = (await this.ds.query(
      `UPDATE ${T} SET status = 'cancelled', finished_at = now(), error = 'cancelled while queued', ${CALLBACK_DUE}
       WHERE id = $1 AND status = 'queued' RETURNING id`,
      [id],
    )) as [Array<{ id: string }>, number];
    return rows.length ? this.repo.findOneBy({ id }) : null;
  }

  /** Dead or failed invocations queued again with a fresh round of attempts; the earlier attempts stay in the log. */
  async redrive(where: { ids?: string[]; functionId?: string; statuses: InvocationStatus[] }, limit: number): Promise<PendingDispatch[]> {
    const params: unknown[] = [where.statuses, limit];
    let filter = `status = ANY($1::text[])`;
    if (where.ids) filter += ` AND id = ANY($${params.push(where.ids)}::uuid[])`;
    if (where.functionId) filter += ` AND function_id = $${params.push(where.functionId)}`;
    const [rows] = (await this.ds.query(
      `UPDATE ${T} SET status = 'queued', attempts = 0, due_at = now(), round_started_at = now(), dispatched_at = NULL, error = NULL, result = NULL,
         finished_at = NULL, callback_status = NULL, callback_due_at = NULL, callback_attempts = 0, callback_last_error = NULL,
         callback_delivered_at = NULL
       WHERE id IN (SELECT id FROM ${T} WHERE ${filter} ORDER BY accepted_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING id, function_id, jsonb_array_length(attempt_log) AS log_length`,
      params,
    )) as [Array<{ id: string; function_id: string; log_length: number }>, number];
    return rows.map((r) => ({ id: r.id, functionId: r.function_id, logLength: r.log_length }));
  }

  /** Every column but `request` (up to megabytes of base64): what the pump and the list load. */
  private lightColumns(): Array<keyof InvocationEntity> {
    return this.repo.metadata.columns.map((c) => c.propertyName as keyof InvocationEntity).filter((name) => name !== 'request');
  }

  private lightSelect(): FindOptionsSelect<InvocationEntity> {
    return Object.fromEntries(this.lightColumns().map((name) => [name, true])) as FindOptionsSelect<InvocationEntity>;
  }

  /** Newest first; each request without its body (a page of 500 would otherwise carry up to 3 GB of it). */
  async list(f: ListFilter): Promise<InvocationEntity[]> {
    const qb = this.repo
      .createQueryBuilder('i')
      .select(this.lightColumns().map((name) => `i.${name}`))
      .addSelect(`i.request || '{"body": ""}'::jsonb`, 'request_without_body')
      .orderBy('i.accepted_at', 'DESC')
      .addOrderBy('i.id', 'DESC')
      .limit(f.limit);
    if (f.functionId) qb.andWhere('i.function_id = :functionId', { functionId: f.functionId });
    if (f.status) qb.andWhere('i.status = :status', { status: f.status });
    if (f.before) qb.andWhere('(i.accepted_at, i.id) < (:at, :id)', { at: f.before.acceptedAt, id: f.before.id });
    const { entities, raw } = await qb.getRawAndEntities<{ i_id: string; request_without_body: StoredRequest }>();
    const requests = new Map(raw.map((r) => [r.i_id, r.request_without_body]));
    for (const e of entities) e.request = requests.get(e.id)!;
    return entities;
  }

  /**
   * Queued rows that are due and not handed to the work queue since they became due (or handed over long ago: a
   * queue that lost its messages; null: not those), marked as handed over in the same statement (locks held only for it): the caller
   * publishes after, and gives back with unmarkDispatched the marks of those it could not publish.
   */
  async markDueForDispatch(redispatchAfterMs: number | null, limit: number): Promise<{ due: DispatchMessage[]; markedAt: string | null }> {
    const [rows] = (await this.ds.query(
      `UPDATE ${T} SET dispatched_at = now()
       WHERE id IN (SELECT id FROM ${T}
                    WHERE status = 'queued' AND due_at <= now()
                      AND (dispatched_at IS NULL OR dispatched_at < due_at
                           OR ($1::float8 IS NOT NULL AND dispatched_at < now() - make_interval(secs => $1::float8 / 1000)))
                    ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING id, function_id, dispatched_at::text AS marked_at`,
      [redispatchAfterMs, limit],
    )) as [Array<{ id: string; function_id: string; marked_at: string }>, number];
    // As text: a Date would lose the microseconds the mark is compared on.
    return { due: rows.map((r) => ({ id: r.id, functionId: r.function_id })), markedAt: rows[0]?.marked_at ?? null };
  }

  /** The marks of ids that could not be published, unless something marked or moved them since. */
  async unmarkDispatched(ids: string[], markedAt: string): Promise<void> {
    if (!ids.length) return;
    await this.ds.query(`UPDATE ${T} SET dispatched_at = NULL WHERE id = ANY($1::uuid[]) AND dispatched_at = $2::timestamptz AND status = 'queued'`, [
      ids,
      markedAt,
    ]);
  }

  /** Running rows whose lease ran out, except those this process is running itself. */
  async expiredLeases(em: EntityManager, mine: string[], limit: number): Promise<InvocationEntity[]> {
    const ids = (await em.query(
      `SELECT id FROM ${T} WHERE status = 'running' AND lease_until < now() AND NOT (id = ANY($1::uuid[]))
       ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [mine, limit],
    )) as Array<{ id: string }>;
    if (!ids.length) return [];
    return em.getRepository(InvocationEntity).find({ select: this.lightSelect(), where: ids.map((r) => ({ id: r.id })) });
  }

  /** Claims due callbacks for `holdMs` (their due time moves on, so no other pump delivers them meanwhile). */
  async claimCallbacks(holdMs: number, limit: number): Promise<InvocationEntity[]> {
    const [rows] = (await this.ds.query(
      `UPDATE ${T} SET callback_due_at = now() + make_interval(secs => $1::float8 / 1000)
       WHERE id IN (SELECT id FROM ${T} WHERE callback_status = 'pending' AND callback_due_at <= now()
                    ORDER BY callback_due_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [holdMs, limit],
    )) as [Array<{ id: string }>, number];
    if (!rows.length) return [];
    return this.repo.find({ select: this.lightSelect(), where: rows.map((r) => ({ id: r.id })) });
  }

  /** `round`: the callback round delivered; a delivery of an earlier round (before a redrive) changes nothing. */
  async callbackDelivered(id: string, round: number): Promise<void> {
    await this.ds.query(
      `UPDATE ${T} SET callback_status = 'delivered', callback_attempts = callback_attempts + 1, callback_delivered_at = now(),
         callback_due_at = NULL, callback_last_error = NULL WHERE id = $1 AND callback_status = 'pending' AND callback_round = $2`,
      [id, round],
    );
  }

  /** A failed delivery of `round`: due again after `retryInMs`, or failed for good when that is null. */
  async callbackFailed(id: string, round: number, error: string, retryInMs: number | null): Promise<void> {
    await this.ds.query(
      `UPDATE ${T} SET callback_attempts = callback_attempts + 1, callback_last_error = $2,
         callback_status = CASE WHEN $3::float8 IS NULL THEN 'failed' ELSE 'pending' END,
         callback_due_at = CASE WHEN $3::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $3::float8 / 1000) END
       WHERE id = $1 AND callback_status = 'pending' AND callback_round = $4`,
      [id, error.slice(0, 1000), retryInMs, round],
    );
  }

  async ping(): Promise<void> {
    await this.ds.query('SELECT 1');
  }
}
