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
import { FunctionPolicies } from './function-policy';
import { InvocationEntity } from './invocation.entity';
import { DispatchMessage, InvocationQueue } from './invocation-queue';
import { InvocationStore } from './invocation.store';
import { logsByAttempt, requestFromEvent, toInvocationView, viewFromEvents } from './invocation-view';

/** How long the count of every function's pending invocations is reused. */
const GLOBAL_COUNT_MS = 1_000;

/** The same request, byte for byte as the function would get it: what an idempotency key is compared on. */
export function requestSha256(r: StoredRequest): string {
  const headers = Object.fromEntries(Object.entries(r.headers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const canonical = JSON.stringify([r.style, r.method.toUpperCase(), r.path, r.query, headers, r.body]);
  return createHash('sha256').update(canonical).digest('hex');
}

function encodeCursor(row: InvocationEntity): string {
  return Buffer.from(`${row.acceptedAt.toISOString()}|${row.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { acceptedAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const acceptedAt = new Date(at);
  if (!id || Number.isNaN(acceptedAt.getTime())) throw new ValidationError('before must be the `next` of a previous page');
  return { acceptedAt, id };
}

/** Accepting, looking up, cancelling, redriving and replaying asynchronous invocations. */
@Injectable()
export class InvocationsService {
  private readonly logger = new Logger(InvocationsService.name);
  private pendingAll?: { at: number; n: number };

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
    const sha = requestSha256(cmd.request);
    const { row, duplicate } = await this.store.transaction(async (em) => {
      // One accept per function at a time: the idempotency check and the queue bound see every earlier accept.
      await em.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`invocations:${cmd.functionId}`]);
      const repo = em.getRepository(InvocationEntity);
      if (cmd.idempotencyKey) {
        const existing = await repo.findOneBy({ functionId: cmd.functionId, idempotencyKey: cmd.idempotencyKey });
        if (existing) {
          if (existing.requestSha256 !== sha) {
            throw new DomainError(
              422,
              `the idempotency key "${cmd.idempotencyKey}" was already used for invocation ${existing.id} with a different request; ` +
                'send the same request to get that invocation, or use a new key for a new one',
              { invocationId: existing.id },
            );
          }
          return { row: existing, duplicate: true };
        }
      }
      const pending = await this.store.functionPending(em, cmd.functionId, policy.asyncQueueSize);
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
      const now = new Date();
      const created = repo.create({
        id: randomUUID(),
        functionId: cmd.functionId,
        label: policy.label ?? cmd.functionId,
        status: 'queued',
        source: cmd.source,
        version: null,
        pinnedVersion: cmd.version ?? null,
        maxAttempts: policy.retry.attempts,
        retry: policy.retry,
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
        result: null,
        error: null,
        dueAt: now,
        dispatchedAt: null,
        owner: null,
        leaseUntil: null,
        acceptedAt: now,
        finishedAt: null,
      });
      await repo.insert(created);
      return { row: created, duplicate: false };
    });
    if (!duplicate) await this.dispatch([{ id: row.id, functionId: row.functionId }]);
    return { invocationId: row.id, functionId: row.functionId, status: row.status, statusUrl: invocationStatusUrl(row.id), duplicate };
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
  private async dispatch(messages: DispatchMessage[]): Promise<void> {
    const sent: string[] = [];
    await Promise.all(
      messages.map((m) =>
        this.queue.publish(m).then(
          () => sent.push(m.id),
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
