import { context, propagation } from '@opentelemetry/api';
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { ConfirmChannel, Options } from 'amqplib';
import { ChannelWrapper } from 'amqp-connection-manager';
import * as os from 'os';
import * as path from 'path';
import { ALL_EVENTS_BINDING, CLOUDEVENT_CONTENT_TYPE, eventExchange, EVENT_LOG_QUEUE, PlatformEvent, routingKeyOf, toCloudEvent } from '@platform/contracts';
import { CommonSettingsValues, SETTINGS } from '@platform/config';
import { AmqpConnection } from './amqp-connection';
import { EventSpool } from './event-spool';
import { SERVICE_NAME } from './tokens';

const DRAIN_INTERVAL_MS = 1_000;

/** One broker message: the routing key, the CloudEvent as JSON, and the AMQP properties a plain consumer reads. */
interface EventMessage {
  event: PlatformEvent;
  routingKey: string;
  body: Buffer;
  properties: Options.Publish;
}

function messageOf(event: PlatformEvent): EventMessage {
  const ce = toCloudEvent(event);
  const ms = Date.parse(event.timestamp);
  // The trace the event was published in (W3C traceparent), for a consumer to continue.
  const headers: Record<string, string> = {};
  propagation.inject(context.active(), headers);
  return {
    event,
    routingKey: routingKeyOf(event),
    body: Buffer.from(JSON.stringify(ce)),
    properties: {
      persistent: true,
      contentType: CLOUDEVENT_CONTENT_TYPE,
      messageId: event.id,
      type: ce.type,
      ...(Number.isFinite(ms) ? { timestamp: Math.floor(ms / 1000) } : {}),
      ...(headers.traceparent ? { headers } : {}),
    },
  };
}

/**
 * Publishes events to the topic exchange as CloudEvents, one message per event, with publisher
 * confirms. A batch is written to the channel at once and its confirms awaited together (the broker
 * confirms many with one frame), so the cost is per batch, not per round trip. An event the broker
 * does not confirm in time is written to a local spool and replayed later: never dropped.
 *
 * The publishes go straight to the confirm channel that the connection manager keeps set up (it
 * reconnects and runs `setup` again): ChannelWrapper.publish, with its own per-message queue and
 * timer, gave 9,400-11,000 messages/s where this gives 11,200-11,900 (BENCHMARKS.md), and the spool
 * already covers what its queue would retry.
 */
@Injectable()
export class EventPublisher implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(EventPublisher.name);
  private readonly exchange: string;
  private readonly wrapper: ChannelWrapper;
  /** The confirm channel of the current connection; undefined while the broker is away. */
  private channel?: ConfirmChannel;
  private connecting?: Promise<void>;
  private readonly spool: EventSpool;
  private readonly spoolFile: string;
  private drainTimer?: NodeJS.Timeout;
  private draining = false;
  private closed = false;
  private inFlight = new Set<Promise<void>>();
  private readonly publishTimeoutMs: number;

  constructor(connection: AmqpConnection, @Inject(SETTINGS) settings: CommonSettingsValues, @Inject(SERVICE_NAME) service: string) {
    this.exchange = eventExchange(settings.HKS_NAMESPACE);
    this.publishTimeoutMs = settings.EVENT_PUBLISH_TIMEOUT_MS;
    this.spoolFile = path.resolve(settings.HKS_DATA_DIR, 'spool', `${service}-${os.hostname()}.events.jsonl`);
    this.spool = new EventSpool(this.spoolFile);
    this.wrapper = connection.manager.createChannel({
      name: 'event-publisher',
      confirm: true,
      json: false,
      setup: async (ch: ConfirmChannel) => {
        await ch.assertExchange(this.exchange, 'topic', { durable: true });
        // The event log's queue, declared as the event store's subscriber declares it: an event published before the
        // event store ever started is kept there, not routed nowhere.
        const dlx = `${this.exchange}.dlx`;
        const log = `${settings.HKS_NAMESPACE}.${EVENT_LOG_QUEUE}`;
        await ch.assertExchange(dlx, 'fanout', { durable: true });
        await ch.assertQueue(log, { durable: true, arguments: { 'x-dead-letter-exchange': dlx } });
        await ch.bindQueue(log, this.exchange, ALL_EVENTS_BINDING);
        this.channel = ch;
        ch.once('close', () => {
          if (this.channel === ch) this.channel = undefined;
        });
      },
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

  /** Many events, one message each, confirmed together. Resolves once every one is confirmed or spooled. */
  publishMany(events: PlatformEvent[]): Promise<void> {
    if (!events.length) return Promise.resolve();
    let messages: EventMessage[];
    try {
      messages = events.map(messageOf);
    } catch (err) {
      return Promise.reject(new Error(`events that cannot be serialised are neither published nor spooled: ${(err as Error).message}`));
    }
    const p = this.send(messages).then(async ({ unconfirmed, why }) => {
      if (!unconfirmed.length) return;
      const what = unconfirmed.length === 1 ? `event ${unconfirmed[0].name} ${unconfirmed[0].id}` : `${unconfirmed.length} of ${events.length} events`;
      this.logger.warn(`${what} not confirmed (${why}); spooled for retry`);
      await this.spool.append(unconfirmed);
    });
    this.inFlight.add(p);
    const done = () => void this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  /** publishMany without waiting, for hot paths. */
  emitMany(events: PlatformEvent[]): void {
    if (events.length)
      this.publishMany(events).catch((err) => this.logger.error(`${events.length} events neither confirmed nor spooled: ${(err as Error).message}`));
  }

  /** The channel, waiting for a (re)connection at most `ms`. */
  private async connected(ms: number): Promise<ConfirmChannel | undefined> {
    if (this.channel || this.closed) return this.channel;
    let timer: NodeJS.Timeout | undefined;
    // One wait shared by every publish meanwhile: each waitForConnect adds a listener to the wrapper.
    this.connecting ??= this.wrapper
      .waitForConnect()
      .catch(() => undefined)
      .finally(() => (this.connecting = undefined));
    await Promise.race([this.connecting, new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
    return this.channel;
  }

  /**
   * Writes every message to the channel, then waits for all their confirms (or the publish timeout).
   * Answers the events the broker did not confirm: nacked, lost with the channel, or late.
   */
  private async send(messages: EventMessage[]): Promise<{ unconfirmed: PlatformEvent[]; why: string }> {
    const started = Date.now();
    const ch = await this.connected(this.publishTimeoutMs);
    if (!ch) return { unconfirmed: messages.map((m) => m.event), why: 'the broker is unreachable' };
    const confirmed = new Array<boolean>(messages.length).fill(false);
    let why = 'timeout';
    await new Promise<void>((resolve) => {
      let open = messages.length;
      const timer = setTimeout(resolve, Math.max(1, this.publishTimeoutMs - (Date.now() - started)));
      const settle = (i: number, err?: Error) => {
        if (err) why = err.message;
        else confirmed[i] = true;
        if (--open === 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      messages.forEach((m, i) => {
        try {
          // The write buffer may fill (publish answers false); amqplib keeps the frames, and confirms pace the caller.
          ch.publish(this.exchange, m.routingKey, m.body, m.properties, (err) => settle(i, err ?? undefined));
        } catch (err) {
          settle(i, err as Error);
        }
      });
    });
    return { unconfirmed: messages.filter((_, i) => !confirmed[i]).map((m) => m.event), why };
  }

  async drain(): Promise<number> {
    if (this.draining) return 0;
    this.draining = true;
    try {
      const batch = await this.spool.take();
      if (!batch) return 0;
      // Only a damaged file holds such lines (this process writes CloudEvents it made); say so rather than stop replaying.
      if (batch.unreadable)
        this.logger.error(`${batch.unreadable} line(s) of the spool are not CloudEvents and cannot be replayed; kept in ${this.spoolFile}.unreadable`);
      const { unconfirmed } = await this.send(batch.events.map(messageOf));
      if (unconfirmed.length) {
        await batch.restore();
        return 0;
      }
      await batch.commit();
      if (batch.events.length) this.logger.log(`replayed ${batch.events.length} spooled events`);
      return batch.events.length;
    } catch (err) {
      this.logger.warn(`replaying the spool failed (kept for the next attempt): ${(err as Error).message}`);
      return 0;
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
    await this.wrapper.close();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.beforeApplicationShutdown();
  }
}
