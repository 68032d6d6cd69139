import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { InvocationResult } from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { descriptorOf, PublishContext, SourceModule, TopicMessage } from '@platform/sources';
import { DeployerSettingsValues } from '../settings';
import { InvocationEntity } from '../invocations/invocation.entity';

export type FinalStatus = 'succeeded' | 'failed' | 'dead';

/**
 * A trigger's result and error topics: when an invocation a trigger made ends, its result goes to `resultTopic`
 * (succeeded) and its error to `errorTopic` (failed, or dead: out of retries), on the same system as the trigger.
 * Published once the end is committed, best effort (at most once: a publish that fails is logged, not retried, so
 * a broker being down never holds up the invocations).
 */
@Injectable()
export class TopicPublisher implements OnApplicationShutdown {
  private readonly logger = new Logger(TopicPublisher.name);
  private readonly used = new Set<SourceModule>();

  constructor(@Inject(SETTINGS) private readonly settings: DeployerSettingsValues) {}

  /** Publishes the end of `row` where its trigger asks for it; never rejects. */
  async finished(
    row: Pick<InvocationEntity, 'id' | 'functionId' | 'trigger' | 'idempotencyKey'>,
    status: FinalStatus,
    result: InvocationResult | null,
    error: string | null,
  ): Promise<void> {
    const trigger = row.trigger;
    if (!trigger) return;
    const topic = status === 'succeeded' ? trigger.config.resultTopic : trigger.config.errorTopic;
    if (typeof topic !== 'string' || !topic) return;
    const message: TopicMessage = {
      invocationId: row.id,
      functionId: row.functionId,
      status,
      result: status === 'succeeded' ? answerOf(result) : null,
      error: status === 'succeeded' ? null : error,
      eventId: eventIdOf(row.idempotencyKey),
    };
    try {
      const module = await descriptorOf(trigger.type)?.load?.();
      if (!module?.publish) throw new Error(`the ${trigger.type} source cannot publish`);
      this.used.add(module);
      await module.publish(trigger.config, topic, message, this.publishContext());
    } catch (err) {
      this.logger.warn(`invocation ${row.id}: publishing its ${status} end to ${trigger.type} topic "${topic}" failed: ${(err as Error).message}`);
    }
  }

  private publishContext(): PublishContext {
    return {
      namespace: this.settings.HKS_NAMESPACE,
      platformAmqpUrl: this.settings.AMQP_URL,
      natsUrl: this.settings.NATS_URL,
      mqttUrl: this.settings.MQTT_URL,
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.used].map((m) => (m.close ? m.close().catch(() => undefined) : Promise.resolve())));
  }
}

/** The function's answer as a value: parsed JSON when it is JSON, the text otherwise (base64 when binary). */
export function answerOf(result: InvocationResult | null): unknown {
  if (!result) return null;
  if (result.isBase64Encoded) return result.body;
  try {
    return JSON.parse(result.body);
  } catch {
    return result.body;
  }
}

/** The event id within a trigger's idempotency key `{kind}:{trigger key}:{event id}`. */
function eventIdOf(key: string | null): string | null {
  if (!key) return null;
  const parts = key.split(':');
  return parts.length >= 3 ? parts.slice(2).join(':') : null;
}
