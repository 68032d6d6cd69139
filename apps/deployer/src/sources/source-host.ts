import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { hostname } from 'os';
import { NotFoundError, S3NotificationResult, ValidationError } from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { batchEvent, descriptorOf, redactUrl, s3Events, s3Records, SourceConsumer, SourceContext, SourceEvent } from '@platform/sources';
import { DeploymentStore } from '../deployments/deployment.store';
import { DeployerSettingsValues } from '../settings';
import { Deployment } from '../deployments/deployment.entity';
import { InvocationsService } from '../invocations/invocations.service';
import { RegistryClient } from '../registry/registry.client';
import { configured, ConfiguredTrigger, triggerCommand } from './trigger-command';
import { SourceStates } from './source-states';

/** How often consumers that could not start (a broker down, a stream not created yet) are tried again. */
const RESTART_MS = 15_000;

interface Running {
  trigger: ConfiguredTrigger;
  label: string;
  consumer?: SourceConsumer;
  /** Why the last start failed; the consumer is tried again every RESTART_MS. */
  failed?: string;
  starting?: Promise<void>;
}

/**
 * Runs the consumers of the event sources (queue, nats, mqtt, kafka, s3) of every READY function, on every deployer
 * replica (competing consumers, queue groups, shared subscriptions, one consumer group: each message goes to one).
 * A consumer hands its messages to `deliver`, which accepts them as asynchronous invocations (committed, idempotent
 * on the trigger and the event id) before the consumer acknowledges them: none is lost, a failing handler is retried
 * by the trigger's retry policy and ends in the dead letters, never in a loop.
 */
@Injectable()
export class SourceHost implements OnApplicationShutdown {
  private readonly logger = new Logger(SourceHost.name);
  /** By function id, then by the trigger's config (a changed config is a new consumer). */
  private readonly running = new Map<string, Map<string, Running>>();
  private readonly restartTimer: NodeJS.Timeout;
  /**
   * This replica, stable across its restarts and distinct from the other replicas (an MQTT persistent session is
   * resumed by it): DEPLOYER_INSTANCE_ID, else the host name and the deployer's port.
   */
  private readonly instanceId: string;
  private closed = false;

  constructor(
    @Inject(SETTINGS) private readonly settings: DeployerSettingsValues,
    private readonly invocations: InvocationsService,
    private readonly states: SourceStates,
    private readonly registry: RegistryClient,
    private readonly deployments: DeploymentStore,
  ) {
    this.instanceId = (settings.DEPLOYER_INSTANCE_ID ?? `${hostname()}-${settings.DEPLOYER_PORT}`).replace(/[^A-Za-z0-9_-]/g, '_');
    this.restartTimer = setInterval(() => void this.restartFailed(), RESTART_MS);
    this.restartTimer.unref();
  }

  /** Makes the function's consumers those of its deployment's triggers (none when it is not READY). */
  async sync(functionId: string, deployment: Deployment | null): Promise<void> {
    const running = this.running.get(functionId) ?? new Map<string, Running>();
    const wanted = new Map<string, ConfiguredTrigger>();
    for (const trigger of consumerTriggers(deployment)) {
      // An s3 webhook consumes nothing: its notifications come through the gateway (s3Notification).
      if (trigger.kind === 's3' && trigger.config.mode !== 'poll') continue;
      wanted.set(JSON.stringify(trigger.config), trigger);
    }
    for (const [sig, r] of running) {
      if (wanted.has(sig)) continue;
      running.delete(sig);
      await this.stopOne(r);
    }
    const problems: string[] = [];
    // Registered before the starts: a start checks it is still wanted when it is done.
    if (deployment && wanted.size) this.running.set(functionId, running);
    for (const [sig, trigger] of wanted) {
      if (running.has(sig) || !deployment) continue;
      const r: Running = { trigger, label: deployment.label };
      running.set(sig, r);
      await this.startOne(functionId, r);
      if (r.failed) problems.push(r.failed);
    }
    if (running.size) this.running.set(functionId, running);
    else this.running.delete(functionId);
    if (problems.length) throw new Error(`${problems.join('; ')} (tried again every ${RESTART_MS / 1000} s)`);
  }

  /** The function's triggers and whether each consumes (for health and tests). */
  status(functionId: string): { kind: string; key: string; consuming: boolean; error?: string }[] {
    return [...(this.running.get(functionId)?.values() ?? [])].map((r) => ({
      kind: r.trigger.kind,
      key: r.trigger.key,
      consuming: !!r.consumer && !r.failed,
      ...(r.failed ? { error: r.failed } : {}),
    }));
  }

  private startOne(functionId: string, r: Running): Promise<void> {
    r.starting ??= this.tryStart(functionId, r).finally(() => (r.starting = undefined));
    return r.starting;
  }

  private async tryStart(functionId: string, r: Running): Promise<void> {
    const { kind, config } = r.trigger;
    const where = `${kind} trigger ${describe(config)} of ${r.label}`;
    try {
      const d = descriptorOf(kind);
      if (!d?.load) throw new Error(`the ${kind} source has no consumer`);
      const module = await d.load();
      const consumer = module.create(this.context(functionId, r));
      await consumer.start();
      if (this.closed || !this.isRunning(functionId, r)) {
        await consumer.stop();
        return;
      }
      r.consumer = consumer;
      if (r.failed) this.logger.log(`${where}: consuming now`);
      r.failed = undefined;
    } catch (err) {
      r.failed = `${where}: ${(err as Error).message}`;
      this.logger.error(r.failed);
    }
  }

  private isRunning(functionId: string, r: Running): boolean {
    return [...(this.running.get(functionId)?.values() ?? [])].includes(r);
  }

  private async restartFailed(): Promise<void> {
    for (const [functionId, running] of this.running) {
      for (const r of running.values()) if (r.failed && !r.consumer) await this.startOne(functionId, r);
    }
  }

  private async stopOne(r: Running): Promise<void> {
    // A start under way sees the trigger is no longer wanted and stops what it started.
    await r.starting;
    const consumer = r.consumer;
    r.consumer = undefined;
    await consumer?.stop().catch((err) => this.logger.warn(`stopping the ${r.trigger.kind} trigger of ${r.label}: ${(err as Error).message}`));
  }

  private context(functionId: string, r: Running): SourceContext {
    const { trigger } = r;
    const logger = this.logger;
    const prefix = `${trigger.kind} trigger of ${r.label}`;
    const ctx: SourceContext = {
      functionId,
      label: r.label,
      namespace: this.settings.HKS_NAMESPACE,
      trigger: trigger.config,
      triggerKey: trigger.key,
      platformAmqpUrl: this.settings.AMQP_URL,
      natsUrl: this.settings.NATS_URL,
      mqttUrl: this.settings.MQTT_URL,
      instanceId: this.instanceId,
      retryDelayMs: this.settings.TRIGGER_RETRY_DELAY_MS,
      deliver: (events) => this.deliver(functionId, r, events),
      state: this.states.of(functionId, trigger.key),
      secret: (name) => this.registry.resolveSecret(name),
      logger: {
        log: (m) => logger.log(`${prefix}: ${m}`),
        warn: (m) => logger.warn(`${prefix}: ${m}`),
        error: (m) => logger.error(`${prefix}: ${m}`),
      },
    };
    return ctx;
  }

  /**
   * Accepts the events (one invocation each, or one for the batch) in one multi-row insert; resolves once all are
   * committed. An event whose id was accepted before is a duplicate, not a failure; one larger than the function's
   * maxRequestBytes is logged and let go (held, it would come back forever). Anything else (the database down, the
   * function's queue full) rejects, and the consumer gives the messages back.
   */
  async deliver(functionId: string, r: Pick<Running, 'trigger' | 'label'>, events: SourceEvent[]): Promise<void> {
    if (!events.length) return;
    const { trigger } = r;
    const invocations = trigger.config.deliver === 'batch' ? [batchEvent(events, events[0].source)] : events;
    await this.invocations.acceptMany(
      functionId,
      invocations.map((event) => triggerCommand(functionId, trigger, event)),
    );
  }

  /**
   * A bucket notification POSTed to /api/v1/sources/s3/{function}: each record that one of the function's s3 webhook
   * triggers matches (bucket, events, prefix, suffix) is accepted as an invocation; resolves once all are committed,
   * so the sender (which retries on an error) loses none.
   */
  async s3Notification(functionId: string, body: unknown): Promise<S3NotificationResult> {
    const deployment = await this.deployments.current(functionId);
    if (deployment?.status !== 'READY') throw new NotFoundError(`function ${functionId} is not deployed; deploy it before its bucket notifications are sent`);
    const triggers = consumerTriggers(deployment).filter((t) => t.kind === 's3' && t.config.mode !== 'poll');
    if (!triggers.length) {
      throw new NotFoundError(
        `function ${deployment.label} has no s3 trigger with mode "webhook": add one (type: s3, bucket: <name>) to receive notifications`,
      );
    }
    const records = s3Records(body);
    if (!records) {
      const sns = (body as { Type?: unknown } | null)?.Type;
      throw new ValidationError(
        sns === 'SubscriptionConfirmation'
          ? 'an SNS subscription confirmation: confirm it by opening its SubscribeURL (the platform does not fetch URLs a request names)'
          : 'not an S3 event notification: expected {"Records": [{"eventName": ..., "s3": {"bucket": {"name": ...}, "object": {"key": ...}}}]} (AWS, MinIO) or an SNS Notification carrying one',
      );
    }
    let accepted = 0;
    for (const trigger of triggers) {
      const events = s3Events(records, trigger.config as { bucket?: string; events?: string[]; prefix?: string; suffix?: string });
      await this.deliver(functionId, { trigger, label: deployment.label }, events);
      accepted += events.length;
    }
    return { functionId, records: records.length, accepted };
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.restartTimer);
    const all = [...this.running.values()].flatMap((m) => [...m.values()]);
    this.running.clear();
    await Promise.all(all.map((r) => this.stopOne(r)));
  }
}

/** The deployment's triggers of the kinds a consumer (or a webhook) serves, with their kind resolved. */
function consumerTriggers(deployment: Deployment | null): ConfiguredTrigger[] {
  const out: ConfiguredTrigger[] = [];
  for (const t of deployment?.spec.config.triggers ?? []) {
    const d = descriptorOf(t.type);
    if (d?.runtime === 'consumer') out.push(configured(d.kind, { ...(t as unknown as Record<string, unknown>), type: d.kind }));
  }
  return out;
}

/** The trigger's address for a log line, credentials redacted. */
function describe(config: Record<string, unknown>): string {
  const parts = ['url', 'source', 'exchange', 'subject', 'stream', 'topic', 'bucket']
    .filter((k) => typeof config[k] === 'string')
    .map((k) => `${k}=${k === 'url' ? redactUrl(config[k] as string) : (config[k] as string)}`);
  return parts.length ? `(${parts.join(' ')})` : '';
}
