import { randomUUID } from 'crypto';
import mqtt, { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import { redactUrl } from '../fields';
import { Backoff, batchSettings, Batcher, messageEvents, reason, retryDelayOf, StopSignal, withTimeout } from '../batching';
import { consumerModule, PublisherConnections, ResultPublisher } from '../publishing';
import type { PublishContext, SourceConsumer, SourceContext, SourceEvent, TopicMessage } from '../types';

const CONNECT_TIMEOUT_MS = 15_000;
/** How long the broker keeps a replica's session (and what it has not acknowledged) while it is away: a day. */
const SESSION_EXPIRY_S = 86_400;

/** Where an mqtt trigger connects: trigger.url, else the platform's MQTT_URL. */
export function mqttUrl(trigger: Record<string, unknown>, ctx: Pick<SourceContext, 'mqttUrl'>): string {
  const url = typeof trigger.url === 'string' ? trigger.url : ctx.mqttUrl;
  if (!url) throw new Error('mqtt trigger has no "url" and the platform has no MQTT_URL: set one of them');
  return url;
}

/** The shared subscription's group: trigger.group, else one per namespace and trigger. */
export function mqttGroup(trigger: Record<string, unknown>, ctx: Pick<SourceContext, 'namespace' | 'triggerKey'>): string {
  return typeof trigger.group === 'string' ? trigger.group : `${ctx.namespace}-${ctx.triggerKey}`.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** A replica's client id: stable, so that after a restart it resumes its session and gets back what it did not PUBACK. */
export function mqttClientId(trigger: Record<string, unknown>, ctx: Pick<SourceContext, 'namespace' | 'triggerKey' | 'instanceId'>): string {
  return `hks-${mqttGroup(trigger, ctx)}-${ctx.instanceId ?? '0'}`;
}

/** Resolves once `client` is connected; rejects (and ends it) on its first error or after a timeout. */
function connected(client: MqttClient, what: string): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve, reject) => {
      const onConnect = () => {
        client.removeListener('error', onError);
        resolve();
      };
      const onError = (err: Error) => {
        client.removeListener('connect', onConnect);
        reject(new Error(`${what}: ${err.message}`));
      };
      client.once('connect', onConnect);
      client.once('error', onError);
    }),
    CONNECT_TIMEOUT_MS,
    `${what}: no connection within ${CONNECT_TIMEOUT_MS} ms`,
  ).catch((err: unknown) => {
    client.end(true);
    throw err;
  });
}

interface Received {
  packet: IPublishPacket;
  /** The connection it came on: a PUBACK only makes sense on that one. */
  connection: number;
  events: SourceEvent[];
}

/** mqtt.js passes this to its ack callback to skip the PUBACK for now (it is sent once the message is accepted). */
class LaterAck extends Error {}
const LATER = new LaterAck('PUBACK once accepted');

/** What of mqtt.js's client sends a PUBACK on its own: the public API only acknowledges before the next message. */
interface PacketSender {
  _sendPacket(packet: { cmd: 'puback'; messageId: number }, cb?: (err?: Error) => void): void;
}

/**
 * Consumes an MQTT topic filter through the shared subscription `$share/{group}/{topic}` at QoS 1, with a
 * persistent session per replica, and sends the PUBACK of a message only once deliver accepted it: a message not
 * acknowledged when the connection drops or the replica stops comes back from the broker.
 *
 * mqtt.js handles incoming messages one at a time and acknowledges each before it reads the next, which allows no
 * batches with a late PUBACK; so its ack callback is told "not now" and the PUBACKs are sent later, in order.
 */
export class MqttConsumer implements SourceConsumer {
  readonly filter: string;
  readonly clientId: string;
  private readonly topic: string;
  private readonly stopSignal = new StopSignal();
  private readonly batcher: Batcher<Received>;
  private client?: MqttClient;
  private connection = 0;
  /**
   * Ids of the messages received and not yet acknowledged, by packet id: a message the broker sends again (after a
   * reconnect, DUP set) is the same event. Fresh messages get fresh ids: equal payloads are different messages.
   */
  private readonly unacknowledged = new Map<number, { id: string; payload: Buffer; topic: string }>();

  constructor(private readonly ctx: SourceContext) {
    this.topic = String(ctx.trigger.topic);
    this.filter = `$share/${mqttGroup(ctx.trigger, ctx)}/${this.topic}`;
    this.clientId = mqttClientId(ctx.trigger, ctx);
    this.batcher = new Batcher(
      batchSettings(ctx.trigger),
      (batch) => this.deliver(batch),
      (err) => this.warn(`a batch failed: ${reason(err)}`),
    );
  }

  private warn(message: string): void {
    this.ctx.logger.warn(`mqtt trigger ${this.topic} -> ${this.ctx.label}: ${message}`);
  }

  async start(): Promise<void> {
    const url = mqttUrl(this.ctx.trigger, this.ctx);
    const what = `cannot subscribe to MQTT ${this.filter} at ${redactUrl(url)}`;
    const { size } = batchSettings(this.ctx.trigger);
    const options: IClientOptions = {
      clientId: this.clientId,
      protocolVersion: 5,
      clean: false,
      reconnectPeriod: 1_000,
      connectTimeout: CONNECT_TIMEOUT_MS,
      // Room for the batch being delivered and the next one filling (brokers may allow fewer: Mosquitto 20).
      properties: { sessionExpiryInterval: SESSION_EXPIRY_S, receiveMaximum: Math.min(2 * size, 65_535) },
      customHandleAcks: (_topic, _message, packet: IPublishPacket, cb) => {
        if (this.stopSignal.stopped) return cb(LATER);
        this.receive(packet);
        cb(LATER);
      },
    };
    const client = mqtt.connect(url, options);
    this.client = client;
    client.on('connect', () => this.connection++);
    const first = connected(client, what);
    client.on('error', (err) => {
      if (err !== LATER) this.warn(err.message);
    });
    client.on('message', (_topic, _payload, packet) => {
      // QoS 0 (published so, or the trigger's qos 0) comes here: nothing to acknowledge.
      if (packet.qos === 0 && !this.stopSignal.stopped) this.receive(packet);
    });
    await first;
    try {
      const qos = this.ctx.trigger.qos === 0 ? 0 : 1;
      const granted = await client.subscribeAsync({ [this.filter]: { qos } });
      const refused = granted.find((g) => g.qos > 2);
      if (refused) throw new Error(`the broker refused the subscription (reason code ${refused.qos})`);
    } catch (err) {
      this.stopSignal.stop();
      await client.endAsync(true).catch(() => undefined);
      throw new Error(`${what}: ${reason(err)}`);
    }
  }

  private receive(packet: IPublishPacket): void {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const id = this.idOf(packet, payload);
    const props = packet.properties ?? {};
    const headers: Record<string, unknown> = { ...(props.userProperties ?? {}) };
    const events = messageEvents(
      {
        id,
        kind: 'mqtt',
        from: this.topic,
        subject: packet.topic,
        contentType: props.contentType,
        headers,
        body: payload,
        extensions: { mqttqos: packet.qos, mqttretain: packet.retain },
      },
      this.ctx,
    );
    this.batcher.add({ packet, connection: this.connection, events });
  }

  private idOf(packet: IPublishPacket, payload: Buffer): string {
    if (packet.qos === 0 || packet.messageId === undefined) return randomUUID();
    const known = this.unacknowledged.get(packet.messageId);
    if (packet.dup && known && known.topic === packet.topic && known.payload.equals(payload)) return known.id;
    const id = randomUUID();
    this.unacknowledged.set(packet.messageId, { id, payload, topic: packet.topic });
    return id;
  }

  private async deliver(batch: Received[]): Promise<void> {
    const backoff = new Backoff(retryDelayOf(this.ctx));
    let items = batch;
    for (;;) {
      if (this.stopSignal.stopped) return; // not acknowledged: the broker keeps them for the session
      // Messages of a connection that dropped come again on the new one: those copies are delivered instead.
      items = items.filter((r) => r.packet.qos === 0 || r.connection === this.connection);
      const events = items.flatMap((r) => r.events);
      try {
        if (events.length) await this.ctx.deliver(events);
        break;
      } catch (err) {
        this.warn(`${items.length} message(s) not accepted (${reason(err)}); trying again`);
        await this.stopSignal.sleep(backoff.delay());
      }
    }
    for (const r of items) this.acknowledge(r);
  }

  private acknowledge(r: Received): void {
    const messageId = r.packet.messageId;
    if (r.packet.qos === 0 || messageId === undefined) return;
    // A PUBACK on another connection than the message's could acknowledge a different message with the same id.
    if (r.connection !== this.connection || !this.client?.connected) return;
    this.unacknowledged.delete(messageId);
    (this.client as unknown as PacketSender)._sendPacket({ cmd: 'puback', messageId }, (err) => {
      if (err) this.warn(`PUBACK ${messageId} not sent (${err.message}); the broker sends the message again`);
    });
  }

  /** Stops: a deliver in progress finishes and is acknowledged; what was not delivered stays with the session. */
  async stop(): Promise<void> {
    this.stopSignal.stop();
    this.batcher.takePending();
    await this.batcher.idle();
    // The session (subscription included) stays: messages published meanwhile wait for this replica's return.
    await this.client?.endAsync().catch(() => undefined);
  }
}

/** Publishes results and errors at QoS 1 to topics of the trigger's broker. */
export class MqttPublisher implements ResultPublisher {
  private readonly clients = new PublisherConnections<MqttClient>((c) => c.endAsync());

  private async connect(url: string): Promise<MqttClient> {
    const c = mqtt.connect(url, { clientId: `hks-results-${randomUUID()}`, protocolVersion: 5, reconnectPeriod: 1_000 });
    await connected(c, `cannot publish to MQTT at ${redactUrl(url)}`);
    c.on('error', () => undefined); // publish reports failures to its caller
    return c;
  }

  async publish(trigger: Record<string, unknown>, topic: string, message: TopicMessage, ctx: PublishContext): Promise<void> {
    const url = mqttUrl(trigger, ctx);
    const client = await this.clients.get(url, () => this.connect(url));
    await client.publishAsync(topic, JSON.stringify(message), { qos: 1, properties: { contentType: 'application/json' } });
  }

  close(): Promise<void> {
    return this.clients.closeAll();
  }
}

export const sourceModule = consumerModule((ctx) => new MqttConsumer(ctx), new MqttPublisher());
