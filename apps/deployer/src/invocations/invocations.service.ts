import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash, randomUUID } from 'crypto';
import { SETTINGS } from '@platform/config';
import {
  AcceptedInvocation,
  AcceptInvocationCommand,
  CallbackKeyView,
  ConflictError,
  DomainError,
  InvocationListQueryDto,
  InvocationPage,
  InvocationView,
  invocationStatusUrl,
  isUuid,
  NotFoundError,
  PlatformEvent,
  RedriveManyDto,
  RedriveManyResult,
  ReplayInvocationDto,
  StoredRequest,
  UnavailableError,
  ValidationError,
} from '@platform/contracts';
import { DeployerSettingsValues } from '../settings';
import { CallbackKeys } from './callback-keys';
import { callbackHostProblem } from './callback-hosts';
import { EventStoreClient } from './event-store.client';
import { FunctionPolicies, FunctionPolicy } from './function-policy';
import { InvocationEntity } from './invocation.entity';
import { InvocationQueue } from './invocation-queue';
import { InvocationStore, PendingDispatch } from './invocation.store';
import { logsByAttempt, requestFromEvent, toInvocationView, viewFromEvents } from './invocation-view';

/** How long the count of every function's pending invocations is reused. */
const GLOBAL_COUNT_MS = 1_000;

/**
 * What an idempotency key is compared on: style, method, path, query, body and content type. Not the other headers:
 * a client's retry through another proxy brings another x-forwarded-for, traceparent or user-agent, and is still
 * the same request.
 */
export function requestSha256(r: StoredRequest): string {
  const contentType = Object.entries(r.headers).find(([name]) => name.toLowerCase() === 'content-type')?.[1] ?? '';
  const canonical = JSON.stringify([r.style, r.method.toUpperCase(), r.path, r.query, contentType.trim().toLowerCase(), r.body]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** Bytes a base64 text decodes to, without decoding it. */
function base64Bytes(b64: string): number {
  const padding = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return Math.floor((b64.length * 3) / 4) - padding;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function encodeCursor(row: InvocationEntity): string {
  return Buffer.from(`${row.acceptedAt.toISOString()}|${row.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { acceptedAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const acceptedAt = new Date(at);
  // Checked here, not by Postgres (a 500): a cursor is opaque to the caller, who may have cut or made one up.
  if (!id || !isUuid(id) || Number.isNaN(acceptedAt.getTime())) throw new ValidationError('before must be the `next` of a previous page');
  return { acceptedAt, id };
}

/** Accepting, looking up, cancelling, redriving and replaying asynchronous invocations. */
@Injectable()
export class InvocationsService {
  private readonly logger = new Logger(InvocationsService.name);
  private pendingAll?: { at: number; n: number };
  private readonly pendingOf = new Map<string, { at: number; n: number }>();

  constructor(
    @Inject(SETTINGS) private readonly settings: DeployerSettingsValues,
    private readonly store: InvocationStore,
    private readonly queue: InvocationQueue,
    private readonly policies: FunctionPolicies,
    private readonly events: EventStoreClient,
    private readonly keys: CallbackKeys,
  ) {}

  /**
   * Durable when it answers: the row is committed first (so a GET right after finds it), then its id goes to the
   * work queue; if that publish fails, the pump hands it over later.
   */
  async accept(cmd: AcceptInvocationCommand): Promise<AcceptedInvocation> {
    const refused = cmd.callbackUrl && callbackHostProblem(cmd.callbackUrl, this.settings.DEPLOYER_CALLBACK_ALLOWED_HOSTS);
    if (refused) throw new ValidationError(refused);
    const policy = await this.policies.of(cmd.functionId);
    const bytes = base64Bytes(cmd.request.body);
    if (bytes > policy.maxRequestBytes) {
      throw new DomainError(
        413,
        `the request body is ${bytes} bytes; function ${policy.label ?? cmd.functionId} takes at most ${policy.maxRequestBytes} (resources.maxRequestBytes)`,
      );
    }
    const sha = requestSha256(cmd.request);
    const { row, duplicate } = await this.insertOnce(cmd, policy, sha);
    if (!duplicate) await this.dispatch([{ id: row.id, functionId: row.functionId, logLength: 0 }]);
    return { invocationId: row.id, functionId: row.functionId, status: row.status, statusUrl: invocationStatusUrl(row.id), duplicate };
  }

  /**
   * No lock: accepts of one function run side by side (one serialised on a lock took a commit's fsync each, a few
   * hundred a second at best). An idempotency key is a unique index: of two accepts racing with one key, the second
   * insert fails and answers with the first's invocation. The queue bounds are counted at most once a second, so a
   * second's accepts may pass them.
   */
  private async insertOnce(cmd: AcceptInvocationCommand, policy: FunctionPolicy, sha: string): Promise<{ row: InvocationEntity; duplicate: boolean }> {
    const key = cmd.idempotencyKey;
    if (key) {
      const existing = await this.store.repo.findOneBy({ functionId: cmd.functionId, idempotencyKey: key });
      if (existing) return { row: this.sameRequest(existing, sha, key), duplicate: true };
    }
    const pending = await this.functionPending(cmd.functionId, policy.asyncQueueSize);
    if (pending >= policy.asyncQueueSize) {
      throw new DomainError(
        429,
        `function ${policy.label ?? cmd.functionId} already has ${pending} asynchronous invocations queued or running, its limit ` +
          '(scaling.asyncQueueSize); try again once some have run, or raise the limit',
      );
    }
    const all = await this.allPending();
    if (all >= this.settings.DEPLOYER_ASYNC_MAX_QUEUED) {
      throw new DomainError(429, `the platform already has ${all} asynchronous invocations queued or running (DEPLOYER_ASYNC_MAX_QUEUED); try again later`);
    }
    const created = this.newRow(cmd, policy, sha);
    // The database's clock, as the claims and the pump use: a deployer whose clock runs ahead would otherwise accept
    // invocations that are not due yet for any claim.
    const now = () => 'clock_timestamp()';
    try {
      await this.store.repo.insert({ ...created, dueAt: now, acceptedAt: now, roundStartedAt: now } as never);
    } catch (err) {
      const existing = key && isUniqueViolation(err) ? await this.store.repo.findOneBy({ functionId: cmd.functionId, idempotencyKey: key }) : null;
      if (existing) return { row: this.sameRequest(existing, sha, key!), duplicate: true };
      throw err;
    }
    return { row: created, duplicate: false };
  }

  /** The row of a new invocation (not stored yet). */
  private newRow(cmd: AcceptInvocationCommand, policy: FunctionPolicy, sha: string): InvocationEntity {
    // A trigger's own retry policy (its `retry`) overrides the function's, field by field.
    const retry = { ...policy.retry, ...definedOnly(cmd.retry ?? {}) };
    return this.store.repo.create({
      id: randomUUID(),
      functionId: cmd.functionId,
      label: policy.label ?? cmd.functionId,
      status: 'queued',
      source: cmd.source,
      version: null,
      pinnedVersion: cmd.version ?? null,
      maxAttempts: retry.attempts,
      retry,
      attempts: 0,
      attemptLog: [],
      request: cmd.request,
      requestSha256: sha,
      callbackUrl: cmd.callbackUrl ?? null,
      callbackStatus: null,
      callbackAttempts: 0,
      callbackLastError: null,
      callbackDeliveredAt: null,
      callbackDueAt: null,
      idempotencyKey: cmd.idempotencyKey ?? null,
      replayOf: cmd.replayOf ?? null,
      trigger: cmd.trigger ?? null,
      result: null,
      error: null,
      dispatchedAt: null,
      owner: null,
      leaseUntil: null,
      finishedAt: null,
    });
  }

  /**
   * Many invocations of one function at once (an event source's batch): one policy lookup, one multi-row INSERT
   * (an idempotency key already used makes no row: a duplicate, whatever its request), then the new ids to the work
   * queue. Resolves once all are committed; rejects as a whole (nothing or everything inserted) when they cannot be.
   * Returns how many were new.
   */
  async acceptMany(functionId: string, cmds: AcceptInvocationCommand[]): Promise<number> {
    if (!cmds.length) return 0;
    const policy = await this.policies.of(functionId);
    const rows: InvocationEntity[] = [];
    for (const cmd of cmds) {
      if (cmd.functionId !== functionId) throw new ValidationError('acceptMany takes the invocations of one function');
      const bytes = base64Bytes(cmd.request.body);
      if (bytes > policy.maxRequestBytes) {
        this.logger.error(
          `${cmd.source} event for ${policy.label ?? functionId} dropped: ${bytes} bytes, over resources.maxRequestBytes (${policy.maxRequestBytes})`,
        );
        continue;
      }
      rows.push(this.newRow(cmd, policy, requestSha256(cmd.request)));
    }
    if (!rows.length) return 0;
    const pending = await this.functionPending(functionId, policy.asyncQueueSize);
    if (pending >= policy.asyncQueueSize) {
      throw new DomainError(
        429,
        `function ${policy.label ?? functionId} already has ${pending} asynchronous invocations queued or running (scaling.asyncQueueSize)`,
      );
    }
    const all = await this.allPending();
    if (all >= this.settings.DEPLOYER_ASYNC_MAX_QUEUED) {
      throw new DomainError(429, `the platform already has ${all} asynchronous invocations queued or running (DEPLOYER_ASYNC_MAX_QUEUED)`);
    }
    const now = () => 'clock_timestamp()';
    const result = await this.store.repo
      .createQueryBuilder()
      .insert()
      .values(rows.map((r) => ({ ...r, dueAt: now, acceptedAt: now, roundStartedAt: now })) as never)
      .orIgnore()
      .returning(['id'])
      .execute();
    const inserted = new Set((result.raw as Array<{ id: string }>).map((r) => r.id));
    const known = this.pendingOf.get(functionId);
    if (known) known.n += inserted.size - 1;
    await this.dispatch(rows.filter((r) => inserted.has(r.id)).map((r) => ({ id: r.id, functionId, logLength: 0 })));
    return inserted.size;
  }

  /** The invocation an idempotency key made, when the request is the same; 422 when it is not. */
  private sameRequest(existing: InvocationEntity, sha: string, key: string): InvocationEntity {
    if (existing.requestSha256 === sha) return existing;
    throw new DomainError(
      422,
      `the idempotency key "${key}" was already used for invocation ${existing.id} with a different request; ` +
        'send the same request to get that invocation, or use a new key for a new one',
      { invocationId: existing.id },
    );
  }

  /** Queued and running invocations of the function, counted at most once a second (see allPending). */
  private async functionPending(functionId: string, cap: number): Promise<number> {
    const known = this.pendingOf.get(functionId);
    if (known && Date.now() - known.at <= GLOBAL_COUNT_MS) return ++known.n;
    if (this.pendingOf.size > 10_000) this.pendingOf.clear();
    const n = await this.store.functionPending(functionId, cap);
    this.pendingOf.set(functionId, { at: Date.now(), n });
    return n;
  }

  /**
   * Queued and running invocations of all functions, counted at most once a second: counting up to the global bound
   * on every accept would cost as much as the backlog is long. The bound may be passed by a second's accepts.
   */
  private async allPending(): Promise<number> {
    if (!this.pendingAll || Date.now() - this.pendingAll.at > GLOBAL_COUNT_MS) {
      this.pendingAll = { at: Date.now(), n: await this.store.allPending(this.settings.DEPLOYER_ASYNC_MAX_QUEUED) };
    } else {
      this.pendingAll.n++;
    }
    return this.pendingAll.n;
  }

  /** Hands ids to the work queue now; what fails is left to the pump (dispatched_at stays null). */
  private async dispatch(messages: PendingDispatch[]): Promise<void> {
    const sent: PendingDispatch[] = [];
    await Promise.all(
      messages.map((m) =>
        this.queue.publish({ id: m.id, functionId: m.functionId }).then(
          () => sent.push(m),
          (err) => this.logger.warn(`invocation ${m.id}: not handed to the work queue now (${(err as Error).message}); the pump will`),
        ),
      ),
    );
    await this.store.markDispatched(sent).catch((err) => this.logger.warn(`marking ${sent.length} invocation(s) dispatched: ${(err as Error).message}`));
  }

  /** The function's logs of each attempt, best effort: null when the event store does not answer. */
  private async logsOf(row: InvocationEntity): Promise<Map<number, string> | null> {
    if (!row.attemptLog.length) return new Map();
    return this.events.eventsOf(row.id).then(logsByAttempt, () => null);
  }

  async get(id: string): Promise<InvocationView> {
    const row = await this.store.get(id);
    if (row) return toInvocationView(row, await this.logsOf(row));
    const view = viewFromEvents(await this.recorded(id));
    if (!view) throw new NotFoundError(`invocation ${id} does not exist`);
    // Events do not keep the label; the deployment does.
    if (view.functionId) view.label = (await this.policies.of(view.functionId)).label ?? view.label;
    return view;
  }

  /** A synchronous invocation's events; 503 when the event store does not answer (it may be there). */
  private async recorded(id: string): Promise<PlatformEvent[]> {
    try {
      return await this.events.eventsOf(id);
    } catch (err) {
      throw new UnavailableError(
        `invocation ${id} is not an asynchronous one, and the event store (where synchronous ones are recorded) did not answer: ${(err as Error).message}`,
      );
    }
  }

  async list(q: InvocationListQueryDto): Promise<InvocationPage> {
    const limit = q.limit ?? 50;
    const rows = await this.store.list({ functionId: q.functionId, status: q.status, before: q.before ? decodeCursor(q.before) : undefined, limit: limit + 1 });
    const page = rows.slice(0, limit);
    return { items: page.map((r) => toInvocationView(r, null, false)), next: rows.length > limit ? encodeCursor(page[page.length - 1]) : null };
  }

  async cancel(id: string): Promise<InvocationView> {
    const cancelled = await this.store.cancel(id);
    if (cancelled) return toInvocationView(cancelled, await this.logsOf(cancelled));
    const row = await this.store.get(id);
    if (!row) throw new NotFoundError(`invocation ${id} does not exist among the asynchronous invocations (only those can be cancelled)`);
    if (row.status === 'running') {
      throw new ConflictError(`invocation ${id} is running (attempt ${row.attemptLog.length}) and can no longer be cancelled; only a queued one can`);
    }
    throw new ConflictError(`invocation ${id} already ended (${row.status}); only a queued invocation can be cancelled`);
  }

  async redrive(id: string): Promise<InvocationView> {
    const [queued] = await this.store.redrive({ ids: [id], statuses: ['dead', 'failed'] }, 1);
    if (!queued) {
      const row = await this.store.get(id);
      if (!row) throw new NotFoundError(`invocation ${id} does not exist among the asynchronous invocations`);
      throw new ConflictError(`invocation ${id} is ${row.status}; only a dead or failed invocation can be redriven`);
    }
    await this.dispatch([queued]);
    const row = await this.store.get(id);
    return toInvocationView(row!, await this.logsOf(row!));
  }

  async redriveMany(dto: RedriveManyDto): Promise<RedriveManyResult> {
    const queued = await this.store.redrive({ ids: dto.ids, functionId: dto.functionId, statuses: ['dead'] }, dto.limit ?? 1000);
    await this.dispatch(queued);
    return { redriven: queued.length, ids: queued.map((q) => q.id) };
  }

  /** A new asynchronous invocation with the stored request of any invocation (an async row, else its events). */
  async replay(dto: ReplayInvocationDto): Promise<AcceptedInvocation> {
    const row = await this.store.get(dto.id);
    let functionId: string;
    let request: StoredRequest;
    let version: number | null;
    if (row) {
      functionId = row.functionId;
      request = row.request;
      version = row.version ?? row.pinnedVersion;
    } else {
      const events = await this.recorded(dto.id);
      const recorded = events.find((e) => e.status !== 'PENDING') ?? events[0];
      if (!recorded?.functionId) throw new NotFoundError(`invocation ${dto.id} does not exist`);
      functionId = recorded.functionId;
      request = requestFromEvent(recorded);
      const v = (recorded.metadata ?? {}).version;
      version = typeof v === 'number' ? v : null;
    }
    if (dto.version === 'original') {
      if (version === null) throw new ConflictError(`invocation ${dto.id} never ran, so it has no original version to replay on; replay it on the current one`);
      // The invoker runs the deployed version only (versions side by side land with issue 14).
      const deployed = (await this.policies.of(functionId)).version;
      if (deployed !== version) {
        const now = deployed === null ? 'the function is not deployed' : `version ${deployed} is deployed`;
        throw new ConflictError(`invocation ${dto.id} ran version ${version}, and ${now}; deploy version ${version} again, or replay on the current version`);
      }
    }
    return this.accept({
      functionId,
      request,
      source: 'replay',
      replayOf: dto.id,
      ...(dto.version === 'original' ? { version: version! } : {}),
    });
  }

  callbackKey(): Promise<CallbackKeyView> {
    return this.keys.publicKey();
  }
}

/** Postgres's unique_violation (23505), as TypeORM passes it on. */
function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string } };
  return e?.code === '23505' || e?.driverError?.code === '23505';
}
