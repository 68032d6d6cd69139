import { INestApplication } from '@nestjs/common';
import * as amqplib from 'amqplib';
import { CloudEvent } from 'cloudevents';
import { EventPatterns, eventExchange, PlatformEvent } from '@platform/contracts';
import { RpcClient } from '@platform/messaging';
import { createTestDatabase, ServiceProcess, startPeer, waitFor } from '@platform/testing';
import { InvokerHarness, startInvoker } from './testing/invoker-harness';

const JSON_HEADERS = { 'content-type': 'application/json' };
const HANDLER = `module.exports.handle = async (data) => {
  if (data && data.fail) throw new Error('asked to fail');
  return { got: data };
};`;

interface Received {
  routingKey: string;
  properties: amqplib.MessageProperties;
  body: Record<string, unknown>;
}

/**
 * What a consumer outside the platform sees: plain amqplib (none of the platform's code), its own
 * exclusive queue, bound per function and per kind, reading CloudEvents 1.0 in structured mode.
 */
class ExternalConsumer {
  readonly received: Received[] = [];
  private constructor(private readonly conn: amqplib.ChannelModel) {}

  static async open(url: string, exchange: string, bindings: string[]): Promise<ExternalConsumer> {
    const conn = await amqplib.connect(url);
    const consumer = new ExternalConsumer(conn);
    const ch = await conn.createChannel();
    await ch.assertExchange(exchange, 'topic', { durable: true });
    const { queue } = await ch.assertQueue('', { exclusive: true });
    for (const binding of bindings) await ch.bindQueue(queue, exchange, binding);
    await ch.consume(
      queue,
      (msg) => {
        if (msg) consumer.received.push({ routingKey: msg.fields.routingKey, properties: msg.properties, body: JSON.parse(msg.content.toString('utf8')) });
      },
      { noAck: true },
    );
    return consumer;
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}

describe('events on the bus, as an external consumer reads them (plain amqplib, CloudEvents 1.0)', () => {
  let inv: InvokerHarness;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: ServiceProcess;
  let peer: INestApplication;
  let consumer: ExternalConsumer;
  let watched: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Threshold 0: every invocation records its PENDING event too, so both kinds are checked on the wire.
    inv = await startInvoker({ DATABASE_URL: db.url, INVOKER_PENDING_EVENT_AFTER_MS: '0' });
    // The event store of the same installation (built: `npm run build` first), for custom events posted through its
    // RPC, as the gateway does.
    store = await ServiceProcess.start('event-store', 'EVENT_STORE_PORT', inv.env);
    peer = await startPeer(inv.env);
    watched = (await inv.deploy({ label: 'ce-watched', family: 'node', entrypoint: 'handler.handle', files: { 'handler.js': HANDLER } })).spec.functionId;
    await inv.deploy({ label: 'ce-other', family: 'node', entrypoint: 'handler.handle', files: { 'handler.js': HANDLER } });
    consumer = await ExternalConsumer.open(inv.env.AMQP_URL, eventExchange(inv.env.HKS_NAMESPACE), [
      '#.ce-watched',
      'invocation.*.ce-watched',
      'event.com.shop.order.placed.*',
    ]);
  }, 90_000);

  afterAll(async () => {
    await consumer?.close();
    await peer?.close();
    await store?.stop();
    await inv?.close();
    await db?.drop();
  });

  it("receives every event of the function's invocations exactly once (pending and result with the threshold at 0) as a valid CloudEvent, and none of another function", async () => {
    // The other function first: were its events routed to this queue, they would arrive before the watched ones.
    const other = await inv.request('POST', '/invoke/ce-other', JSON.stringify({ data: 'not for you' }), JSON_HEADERS);
    expect(other.status).toBe(200);
    const invocations: string[] = [];
    for (const data of [{ n: 1 }, { fail: true }, { n: 3 }]) {
      const res = await inv.request('POST', '/invoke/ce-watched', JSON.stringify({ data }), JSON_HEADERS);
      expect(res.status).toBe(data.fail ? 500 : 200);
      invocations.push(res.headers.get('x-invocation-id')!);
    }
    const ofInvocations = () => consumer.received.filter((r) => r.routingKey.startsWith('invocation.'));
    await waitFor(() => ofInvocations().length >= 6, { what: 'the pending and result events of three invocations', timeoutMs: 15_000 });
    // Give a duplicate, or a stray event of the other function, time to show up.
    await new Promise((r) => setTimeout(r, 500));

    const received = ofInvocations();
    expect(received).toHaveLength(6);
    expect(new Set(received.map((r) => r.body.id)).size).toBe(6);
    for (const { routingKey, properties, body } of received) {
      expect(() => new CloudEvent({ ...body })).not.toThrow();
      expect(properties).toMatchObject({ contentType: 'application/cloudevents+json; charset=utf-8', messageId: body.id, type: body.type, deliveryMode: 2 });
      expect(properties.timestamp).toBe(Math.floor(Date.parse(body.time as string) / 1000));
      expect(body).toMatchObject({
        specversion: '1.0',
        source: '/hks/invoker',
        subject: 'ce-watched',
        functionid: watched,
        datacontenttype: 'application/json',
      });
      expect(routingKey).toBe(`${(body.type as string).replace(/^dev\.hks\./, '')}.ce-watched`);
    }
    const kinds = (invocationId: string) => received.filter((r) => r.body.invocationid === invocationId).map((r) => r.body.type);
    expect(invocations.map(kinds)).toEqual([
      ['dev.hks.invocation.pending', 'dev.hks.invocation.succeeded'],
      ['dev.hks.invocation.pending', 'dev.hks.invocation.failed'],
      ['dev.hks.invocation.pending', 'dev.hks.invocation.succeeded'],
    ]);
    const failed = received.find((r) => r.body.type === 'dev.hks.invocation.failed')!.body;
    expect(failed).toMatchObject({
      status: 'FAILURE',
      data: { type: 'FUNCTION_INVOCATION', payload: { fail: true }, error: expect.stringContaining('asked to fail') },
    });
    expect(consumer.received.filter((r) => r.routingKey.endsWith('.ce-other'))).toEqual([]);
  });

  it('receives a custom event of a dotted type on event.<type>.*, once, with the function it concerns as subject', async () => {
    const rpc = peer.get(RpcClient);
    const forFunction = await rpc.call<PlatformEvent>('event-store', EventPatterns.Create, {
      type: 'com.shop.order.placed',
      source: 'https://shop.example',
      functionId: watched,
      payload: { orderId: 7 },
    });
    const forNone = await rpc.call<PlatformEvent>('event-store', EventPatterns.Create, { type: 'com.shop.order.placed', payload: { orderId: 8 } });
    const cancelled = await rpc.call<PlatformEvent>('event-store', EventPatterns.Create, { type: 'com.shop.order.cancelled', payload: { orderId: 9 } });
    const custom = () => consumer.received.filter((r) => r.routingKey.startsWith('event.'));
    await waitFor(() => custom().length >= 2, { what: 'two com.shop.order.placed events', timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 500));

    // Routed to the queue by two of its bindings (#.ce-watched and event.com.shop.order.placed.*), delivered once.
    expect(custom().map((r) => [r.routingKey, r.body.id])).toEqual([
      ['event.com.shop.order.placed.ce-watched', forFunction.id],
      ['event.com.shop.order.placed._', forNone.id],
    ]);
    for (const { properties, body } of custom()) {
      expect(new CloudEvent({ ...body }).validate()).toBe(true);
      expect(properties).toMatchObject({ contentType: 'application/cloudevents+json; charset=utf-8', type: 'com.shop.order.placed' });
    }
    expect(custom()[0].body).toMatchObject({
      type: 'com.shop.order.placed',
      source: 'https://shop.example',
      subject: 'ce-watched',
      functionid: watched,
      data: { payload: { orderId: 7 } },
    });
    expect(custom()[1].body).not.toHaveProperty('subject');
    expect(consumer.received.map((r) => r.body.id)).not.toContain(cancelled.id);
  });
});
