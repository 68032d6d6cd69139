import { AckPolicy, connect, ConsumerMessages, DeliverPolicy, headers as natsHeaders, JsMsg, Msg, MsgHdrs, nanos, NatsConnection, Subscription } from 'nats';
import { redactUrl } from '../fields';
import { Backoff, batchSettings, Batcher, messageEvents, reason, retryDelayOf, StopSignal } from '../batching';
import { consumerModule, PublisherConnections, ResultPublisher } from '../publishing';
import type { PublishContext, SourceConsumer, SourceContext, SourceEvent, TopicMessage } from '../types';

const DEFAULT_ACK_WAIT_MS = 30_000;
const MAX_NAK_DELAY_MS = 30_000;
/** After a stop, a core NATS batch whose deliver keeps rejecting is tried this many more times, then given up. */
const CORE_TRIES_AFTER_STOP = 3;

/** Where a nats trigger connects: trigger.url, else the platform's NATS_URL. */
export function natsServers(trigger: Record<string, unknown>, ctx: Pick<SourceContext, 'natsUrl'>): string[] {
  const url = typeof trigger.url === 'string' ? trigger.url : ctx.natsUrl;
  if (!url) throw new Error('nats trigger has no "url" and the platform has no NATS_URL: set one of them');
  return url
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The queue group of a core subscription and the default JetStream durable: one per namespace and trigger. */
export function natsGroup(ctx: Pick<SourceContext, 'namespace' | 'triggerKey'>): string {
  return `${ctx.namespace}.${ctx.triggerKey}`;
}

export function natsDurable(trigger: Record<string, unknown>, ctx: Pick<SourceContext, 'namespace' | 'triggerKey'>): string {
  if (typeof trigger.durable === 'string') return trigger.durable;
  return `${ctx.namespace}-${ctx.triggerKey}`.replace(/[^A-Za-z0-9_-]/g, '_');
}

function headerRecord(h: MsgHdrs | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!h) return out;
  for (const [k, v] of h) out[k.toLowerCase()] = v;
  return out;
}

async function connectTo(servers: string[], name: string, what: string): Promise<NatsConnection> {
  try {
    return await connect({ servers, name, maxReconnectAttempts: -1, reconnectTimeWait: 1_000 });
  } catch (err) {
    throw new Error(`${what}: cannot connect to NATS at ${servers.map(redactUrl).join(', ')}: ${reason(err)}`);
  }
}

/**
 * Consumes NATS: a core subscription in the queue group `{namespace}.{triggerKey}` (at most once: core NATS keeps
 * nothing), or a JetStream durable pull consumer (at least once: a message is acknowledged once accepted, and
 * redelivered after a delay when deliver rejects).
 */
export class NatsConsumer implements SourceConsumer {
  private readonly subject: string;
  private readonly stream?: string;
  private readonly stopSignal = new StopSignal();
  private readonly batcher: Batcher<Msg | JsMsg>;
  private nc?: NatsConnection;
  private sub?: Subscription;
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;

  constructor(private readonly ctx: SourceContext) {
    this.subject = String(ctx.trigger.subject);
    this.stream = typeof ctx.trigger.stream === 'string' ? ctx.trigger.stream : undefined;
    this.batcher = new Batcher<Msg | JsMsg>(
      batchSettings(ctx.trigger),
      (batch) => (this.stream ? this.deliverJetStream(batch as JsMsg[]) : this.deliverCore(batch as Msg[])),
      (err) => this.warn(`a batch failed: ${reason(err)}`),
    );
  }

  private get where(): string {
    return this.stream ? `JetStream stream "${this.stream}" (subject ${this.subject})` : `NATS subject ${this.subject}`;
  }

  private warn(message: string): void {
    this.ctx.logger.warn(`nats trigger ${this.subject} -> ${this.ctx.label}: ${message}`);
  }

  async start(): Promise<void> {
    const what = `cannot consume ${this.where}`;
    const nc = await connectTo(natsServers(this.ctx.trigger, this.ctx), `hks-${natsGroup(this.ctx)}`, what);
    this.nc = nc;
    try {
      if (this.stream) await this.startJetStream(nc);
      else this.sub = nc.subscribe(this.subject, { queue: natsGroup(this.ctx), callback: (err, msg) => this.onCore(err, msg) });
      // A subscription the server refuses (permissions) shows up after a round trip.
      await nc.flush();
    } catch (err) {
      this.stopSignal.stop();
      await nc.close().catch(() => undefined);
      throw new Error(`${what}: ${reason(err)}`);
    }
  }

  private async startJetStream(nc: NatsConnection): Promise<void> {
    const stream = this.stream as string;
    const jsm = await nc.jetstreamManager();
    await jsm.streams.info(stream);
    const durable = natsDurable(this.ctx.trigger, this.ctx);
    const ackWaitMs = typeof this.ctx.trigger.ackWaitMs === 'number' ? this.ctx.trigger.ackWaitMs : DEFAULT_ACK_WAIT_MS;
    // Every replica declares the same durable: the first creates it, the others find it as it is (the same config).
    await jsm.consumers.add(stream, {
      durable_name: durable,
      filter_subject: this.subject,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ackWaitMs),
      deliver_policy: DeliverPolicy.All,
    });
    const consumer = await nc.jetstream().consumers.get(stream, durable);
    const { size } = batchSettings(this.ctx.trigger);
    // Not more than two batches in the client: the one delivered and the one filling.
    const messages = await consumer.consume({ max_messages: Math.max(size, 1) });
    this.messages = messages;
    this.loop = (async () => {
      for await (const m of messages) {
        if (this.stopSignal.stopped) {
          m.nak();
          continue;
        }
        this.batcher.add(m);
        await this.batcher.room(1);
      }
    })().catch((err: unknown) => this.warn(`consuming stopped: ${reason(err)}`));
  }

  private onCore(err: Error | null, msg: Msg): void {
    if (err) return this.warn(err.message);
    this.batcher.add(msg);
  }

  private eventsOf(m: Msg | JsMsg, jetstream: boolean): SourceEvent[] {
    const headers = headerRecord(m.headers);
    const js = jetstream ? (m as JsMsg) : undefined;
    const msgId = headers['nats-msg-id']?.[0];
    return messageEvents(
      {
        id: js ? `${js.info.stream}:${js.seq}` : msgId,
        kind: 'nats',
        from: this.subject,
        subject: m.subject,
        time: js ? new Date(Math.floor(js.info.timestampNanos / 1e6)) : undefined,
        headers,
        body: Buffer.from(m.data),
        extensions: js ? { natsstream: js.info.stream, natsseq: js.seq } : {},
      },
      this.ctx,
    );
  }

  private async deliverJetStream(batch: JsMsg[]): Promise<void> {
    if (this.stopSignal.stopped) {
      for (const m of batch) m.nak();
      return;
    }
    const events = batch.flatMap((m) => this.eventsOf(m, true));
    // A deliver that takes long keeps its messages: tell the server they are being worked on.
    const ackWaitMs = typeof this.ctx.trigger.ackWaitMs === 'number' ? this.ctx.trigger.ackWaitMs : DEFAULT_ACK_WAIT_MS;
    const working = setInterval(() => batch.forEach((m) => m.working()), Math.max(ackWaitMs / 3, 100));
    try {
      if (events.length) await this.ctx.deliver(events);
    } catch (err) {
      const first = retryDelayOf(this.ctx);
      this.warn(`${batch.length} message(s) not accepted (${reason(err)}); redelivered after a delay`);
      for (const m of batch) m.nak(Math.min(first * 2 ** Math.min(m.info.redeliveryCount - 1, 16), Math.max(MAX_NAK_DELAY_MS, first)));
      return;
    } finally {
      clearInterval(working);
    }
    // ackAck: the server confirms the acknowledgement, so a lost one is not mistaken for done.
    await Promise.all(batch.map((m) => m.ackAck().catch((e: unknown) => this.warn(`ack of ${m.info.stream}:${m.seq} lost (${reason(e)}); it comes again`))));
  }

  private async deliverCore(batch: Msg[]): Promise<void> {
    const events = batch.flatMap((m) => this.eventsOf(m, false));
    if (!events.length) return;
    const backoff = new Backoff(retryDelayOf(this.ctx));
    let afterStop = 0;
    for (;;) {
      try {
        await this.ctx.deliver(events);
        return;
      } catch (err) {
        if (this.stopSignal.stopped && ++afterStop > CORE_TRIES_AFTER_STOP) {
          this.ctx.logger.error(
            `nats trigger ${this.subject} -> ${this.ctx.label}: ${batch.length} core NATS message(s) lost at stop, never accepted (${reason(err)}); use JetStream for at least once`,
          );
          return;
        }
        this.warn(`${batch.length} message(s) not accepted (${reason(err)}); trying again`);
        // A stop cuts the pause short: the last tries come at the first delay.
        if (this.stopSignal.stopped || (await this.stopSignal.sleep(backoff.delay()))) await new Promise((r) => setTimeout(r, retryDelayOf(this.ctx)));
      }
    }
  }

  /**
   * Stops consuming. JetStream: the batch being delivered finishes and is acknowledged, the others go back (nak).
   * Core NATS: the messages received are still delivered (they cannot go back), then the connection closes.
   */
  async stop(): Promise<void> {
    this.stopSignal.stop();
    if (this.stream) {
      await this.messages?.close().catch(() => undefined);
      for (const m of this.batcher.takePending() as JsMsg[]) m.nak();
      await this.loop;
    } else {
      this.sub?.unsubscribe();
      this.batcher.flush();
    }
    await this.batcher.idle();
    await this.nc?.drain().catch(() => undefined);
  }
}

/** Publishes results and errors: to JetStream when the trigger has a stream (deduplicated by its id), else core NATS. */
export class NatsPublisher implements ResultPublisher {
  private readonly connections = new PublisherConnections<NatsConnection>((nc) => nc.drain());

  async publish(trigger: Record<string, unknown>, topic: string, message: TopicMessage, ctx: PublishContext): Promise<void> {
    const servers = natsServers(trigger, ctx);
    const nc = await this.connections.get(servers.join(','), () => connectTo(servers, 'hks-trigger-results', 'cannot publish a result'));
    const data = Buffer.from(JSON.stringify(message));
    const h = natsHeaders();
    h.set('content-type', 'application/json');
    if (typeof trigger.stream === 'string') {
      try {
        await nc.jetstream().publish(topic, data, { msgID: `${message.invocationId}:${message.status}`, headers: h });
      } catch (err) {
        throw new Error(`cannot publish to JetStream subject ${topic}: ${reason(err)}`);
      }
    } else {
      nc.publish(topic, data, { headers: h });
      await nc.flush();
    }
  }

  close(): Promise<void> {
    return this.connections.closeAll();
  }
}

export const sourceModule = consumerModule((ctx) => new NatsConsumer(ctx), new NatsPublisher());
