import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { AttemptOutcome, EffectiveConfig, InvocationResult, InvocationStatus, InvocationTrigger, StoredRequest } from '@platform/contracts';

export type RetryPolicy = EffectiveConfig['retry'];

/** One attempt as the row keeps it (its logs stay in the event store). */
export interface StoredAttempt {
  number: number;
  outcome: AttemptOutcome | null;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  statusCode: number | null;
  error: string | null;
}

/**
 * One asynchronous invocation: the record of truth. Every change of status is a conditional UPDATE (fenced by
 * status and attempts), so a deployer that lost its lease can never overwrite what another one recorded.
 */
@Entity({ name: 'invocations' })
@Index('invocations_idempotency', ['functionId', 'idempotencyKey'], { unique: true, where: `idempotency_key IS NOT NULL` })
export class InvocationEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid')
  functionId: string;

  @Column('text')
  label: string;

  @Column('text')
  status: InvocationStatus;

  @Column('text')
  source: string;

  /** The version the last attempt ran. */
  @Column('int', { nullable: true })
  version: number | null;

  /** Run only this version (a replay of the original); null: whatever is deployed. */
  @Column('int', { nullable: true })
  pinnedVersion: number | null;

  @Column('int')
  maxAttempts: number;

  /** config.retry as it was when accepted. */
  @Column('jsonb')
  retry: RetryPolicy;

  /** Attempts of the current round (a redrive starts a new one); attemptLog keeps every round's. */
  @Column('int')
  attempts: number;

  @Column('jsonb')
  attemptLog: StoredAttempt[];

  @Column('jsonb')
  request: StoredRequest;

  @Column('text')
  requestSha256: string;

  @Column('text', { nullable: true })
  callbackUrl: string | null;

  @Column('text', { nullable: true })
  callbackStatus: 'pending' | 'delivered' | 'failed' | null;

  @Column('int')
  callbackAttempts: number;

  /** Final outcomes with a callback so far (a redrive brings another): round n > 1 is sent as webhook-id "{id}.{n}". */
  @Column('int', { default: 0 })
  callbackRound: number;

  @Column('text', { nullable: true })
  callbackLastError: string | null;

  @Column('timestamptz', { nullable: true })
  callbackDeliveredAt: Date | null;

  @Column('timestamptz', { nullable: true })
  callbackDueAt: Date | null;

  @Column('text', { nullable: true })
  idempotencyKey: string | null;

  @Column('uuid', { nullable: true })
  replayOf: string | null;

  /** The trigger that made it (an event source): its result and error topics are published with it. */
  @Column('jsonb', { nullable: true })
  trigger: InvocationTrigger | null;

  @Column('jsonb', { nullable: true })
  result: InvocationResult | null;

  @Column('text', { nullable: true })
  error: string | null;

  @Column('timestamptz')
  dueAt: Date;

  /** When its id was last handed to the work queue; null: the pump hands it over. */
  @Column('timestamptz', { nullable: true })
  dispatchedAt: Date | null;

  /** The deployer instance running its attempt. */
  @Column('text', { nullable: true })
  owner: string | null;

  @Column('timestamptz', { nullable: true })
  leaseUntil: Date | null;

  @Column({ type: 'timestamptz', precision: 3 })
  acceptedAt: Date;

  /** When the current round of attempts began (accepted, or redriven): retry.maxAgeMs counts from then. */
  @Column({ type: 'timestamptz', precision: 3, default: () => 'now()' })
  roundStartedAt: Date;

  @Column('timestamptz', { nullable: true })
  finishedAt: Date | null;
}
