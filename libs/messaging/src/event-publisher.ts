import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { ConfirmChannel } from 'amqplib';
import { ChannelWrapper } from 'amqp-connection-manager';
import * as os from 'os';
import * as path from 'path';
import { eventExchange, PlatformEvent } from '@platform/contracts';
import { CommonSettingsValues, SETTINGS } from '@platform/config';
import { AmqpConnection } from './amqp-connection';
import { EventSpool } from './event-spool';
import { SERVICE_NAME } from './tokens';

const DRAIN_INTERVAL_MS = 1_000;

/**
 * Publishes events to the topic exchange with publisher confirms. An event the broker does not
 * confirm in time is written to a local spool and replayed later: never dropped.
 */
@Injectable()
export class EventPublisher implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(EventPublisher.name);
  private readonly exchange: string;
  private readonly channel: ChannelWrapper;
  private readonly spool: EventSpool;
  private drainTimer?: NodeJS.Timeout;
  private draining = false;
  private closed = false;
  private inFlight = new Set<Promise<void>>();
  private readonly publishTimeoutMs: number;

  constructor(
    connection: AmqpConnection,
    @Inject(SETTINGS) settings: CommonSettingsValues,
    @Inject(SERVICE_NAME) service: string,
  ) {
    this.exchange = eventExchange(settings.HKS_NAMESPACE);
    this.publishTimeoutMs = settings.EVENT_PUBLISH_TIMEOUT_MS;
    this.spool = new EventSpool(path.resolve(settings.HKS_DATA_DIR, 'spool', `${service}-${os.hostname()}.events.jsonl`));
    this.channel = connection.manager.createChannel({
      name: 'event-publisher',
      confirm: true,
      json: false,
      setup: (ch: ConfirmChannel) => ch.assertExchange(this.exchange, 'topic', { durable: true }),
    });
  }

  onModuleInit(): void {
    this.drainTimer = setInterval(() => void this.drain(), DRAIN_INTERVAL_MS);
    this.drainTimer.unref();
  }

  /** Resolves once the broker confirmed the event, or once it is safely spooled. */
  publish(event: PlatformEvent): Promise<void> {
    return this.publishMany([event]);
  }

  /** For hot paths: hand the event over and do not wait for it. */
  emit(event: PlatformEvent): void {
    this.emitMany([event]);
  }

  /**
   * Many events, one broker message per event name (a JSON array): under load the broker's cost is
   * per message, not per event. Resolves once every group is confirmed or spooled.
   */
  publishMany(events: PlatformEvent[]): Promise<void> {
    const all = byName(events).map((group) => {
      const p = this.send(group).catch(async (err) => {
        const what = group.length === 1 ? `event ${group[0].name} ${group[0].id}` : `${group.length} ${group[0].name} events`;
        this.logger.warn(`${what} not confirmed (${err?.message}); spooled for retry`);
        await this.spool.append(group);
      });
      this.inFlight.add(p);
      const done = () => void this.inFlight.delete(p);
      p.then(done, done);
      return p;
    });
    return Promise.all(all).then(() => undefined);
  }

  /** publishMany without waiting, for hot paths. */
  emitMany(events: PlatformEvent[]): void {
    if (events.length) this.publishMany(events).catch((err) => this.logger.error(`${events.length} events neither confirmed nor spooled: ${(err as Error).message}`));
  }

  /** One broker message: the event itself, or an array of events that share a name. */
  private async send(events: PlatformEvent[]): Promise<void> {
    const [first] = events;
    const body = events.length === 1 ? first : events;
    await this.channel.publish(this.exchange, first.name, Buffer.from(JSON.stringify(body)), {
      persistent: true,
      contentType: 'application/json',
      messageId: first.id,
      type: first.name,
      headers: { 'x-hks-events': events.length },
      timestamp: Math.floor(Date.parse(first.timestamp) / 1000),
      timeout: this.publishTimeoutMs,
    });
  }

  async drain(): Promise<number> {
    if (this.draining) return 0;
    this.draining = true;
    try {
      const batch = await this.spool.take();
      if (!batch) return 0;
      try {
        await Promise.all(byName(batch.events).map((group) => this.send(group)));
        await batch.commit();
        if (batch.events.length) this.logger.log(`replayed ${batch.events.length} spooled events`);
        return batch.events.length;
      } catch {
        await batch.restore();
        return 0;
      }
    } finally {
      this.draining = false;
    }
  }

  /** Events still waiting in the spool (for health and tests). */
  spooled(): Promise<number> {
    return this.spool.size();
  }

  async flush(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  /** Before the connection closes (onApplicationShutdown): a channel closed after it never completes. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.drainTimer) clearInterval(this.drainTimer);
    await this.flush();
    await this.channel.close();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.beforeApplicationShutdown();
  }
}

/** Events grouped by name, in order of first appearance: one broker message per group. */
function byName(events: PlatformEvent[]): PlatformEvent[][] {
  const groups = new Map<string, PlatformEvent[]>();
  for (const e of events) {
    const g = groups.get(e.name);
    if (g) g.push(e);
    else groups.set(e.name, [e]);
  }
  return [...groups.values()];
}
