import * as amqp from 'amqplib';
import { uniqueName } from '@platform/testing';
import { RecordingContext, sleep } from '../testing/recording-context';
import { QueueConsumer, queuesExchange, sourceModule } from './consumer';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

describe('queue consumer (RabbitMQ)', () => {
  let conn: amqp.ChannelModel;
  let ch: amqp.Channel;
  const queues = new Set<string>();
  const exchanges = new Set<string>();
  const running: QueueConsumer[] = [];

  beforeAll(async () => {
    conn = await amqp.connect(AMQP_URL);
    ch = await conn.createChannel();
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop()));
  });

  afterAll(async () => {
    await sourceModule.close?.();
    for (const q of queues) await ch.deleteQueue(q);
    for (const e of exchanges) await ch.deleteExchange(e);
    await conn.close();
  });

  async function started(ctx: RecordingContext): Promise<QueueConsumer> {
    const c = new QueueConsumer(ctx);
    queues.add(c.address.queue);
    for (const b of c.address.bindings) exchanges.add(b.exchange);
    await c.start();
    running.push(c);
    return c;
  }

  const count = async (queue: string) => (await ch.checkQueue(queue)).messageCount;

  it('delivers each message published to the queue or to {namespace}.queues once, and acknowledges it', async () => {
    const ctx = new RecordingContext({ type: 'queue', source: 'orders', maxBatchWaitMs: 50 });
    const c = await started(ctx);
    expect(c.address.queue).toBe(`${ctx.namespace}.orders`);
    ch.sendToQueue(c.address.queue, Buffer.from('{"n":1}'), { messageId: 'order-1', contentType: 'application/json' });
    ch.publish(queuesExchange(ctx.namespace), 'orders', Buffer.from('second'));
    const events = await ctx.waitForEvents(2);
    expect(events.map((e) => e.data)).toEqual(['{"n":1}', 'second']);
    expect(events[0]).toMatchObject({
      id: 'order-1',
      type: 'hks.queue.message',
      source: `hks://queue/${ctx.namespace}.orders`,
      subject: c.address.queue,
      datacontenttype: 'application/json',
    });
    expect(events[1].subject).toBe('orders');
    await sleep(200);
    expect(ctx.events()).toHaveLength(2);
    expect(await count(c.address.queue)).toBe(0);
  });

  it('takes batchSize messages together without waiting for maxBatchWaitMs', async () => {
    const ctx = new RecordingContext({ type: 'queue', source: 'batch', batchSize: 3, maxBatchWaitMs: 30_000 });
    const c = await started(ctx);
    for (let i = 0; i < 6; i++) ch.sendToQueue(c.address.queue, Buffer.from(`m${i}`));
    await ctx.waitForEvents(6, 5_000);
    expect(ctx.accepted.map((b) => b.map((e) => e.data))).toEqual([
      ['m0', 'm1', 'm2'],
      ['m3', 'm4', 'm5'],
    ]);
  });

  it('delivers a batch that did not fill maxBatchWaitMs after its first message', async () => {
    const ctx = new RecordingContext({ type: 'queue', source: 'wait', batchSize: 10, maxBatchWaitMs: 400 });
    const c = await started(ctx);
    const t0 = Date.now();
    ch.sendToQueue(c.address.queue, Buffer.from('a'));
    ch.sendToQueue(c.address.queue, Buffer.from('b'));
    await ctx.waitForEvents(2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    expect(ctx.accepted).toHaveLength(1);
    expect(ctx.accepted[0].map((e) => e.data)).toEqual(['a', 'b']);
  });

  it('puts a batch whose deliver rejected back on the queue and delivers it again, with the same message id', async () => {
    const ctx = new RecordingContext({ type: 'queue', source: 'retry', maxBatchWaitMs: 0 });
    ctx.rejectNext = 2;
    const c = await started(ctx);
    ch.sendToQueue(c.address.queue, Buffer.from('precious'), { messageId: 'p-1' });
    const events = await ctx.waitForEvents(1);
    expect(ctx.calls.map((x) => x.rejected)).toEqual([true, true, false]);
    expect(ctx.calls.map((x) => x.events[0].id)).toEqual(['p-1', 'p-1', 'p-1']);
    expect(events).toHaveLength(1);
    expect(events[0].data).toBe('precious');
    await sleep(100);
    expect(await count(c.address.queue)).toBe(0);
  });

  it('stops consuming at stop(): a later message stays on the queue', async () => {
    const ctx = new RecordingContext({ type: 'queue', source: 'stop', maxBatchWaitMs: 0 });
    const c = await started(ctx);
    ch.sendToQueue(c.address.queue, Buffer.from('before'));
    await ctx.waitForEvents(1);
    await c.stop();
    ch.sendToQueue(c.address.queue, Buffer.from('after'));
    await sleep(300);
    expect(ctx.events().map((e) => e.data)).toEqual(['before']);
    expect(await count(c.address.queue)).toBe(1);
    const left = await ch.get(c.address.queue, { noAck: true });
    expect(left && left.content.toString()).toBe('after');
  });

  it('lets a deliver in progress finish and acknowledges it at stop(); messages still waiting go back', async () => {
    const ctx = new RecordingContext({ type: 'queue', source: 'drain', batchSize: 1, maxBatchWaitMs: 0 });
    ctx.deliverDelayMs = 500;
    const c = await started(ctx);
    ch.sendToQueue(c.address.queue, Buffer.from('slow-1'));
    ch.sendToQueue(c.address.queue, Buffer.from('slow-2'));
    await sleep(150);
    await c.stop();
    expect(ctx.events().map((e) => e.data)).toEqual(['slow-1']);
    await sleep(100);
    expect(await count(c.address.queue)).toBe(1);
    const left = await ch.get(c.address.queue, { noAck: true });
    expect(left && left.content.toString()).toBe('slow-2');
  });

  it('binds to an exchange with a binding key on another broker URL, declaring a topic exchange when absent', async () => {
    const exchange = uniqueName('hkst-ex');
    const source = uniqueName('hkst-q');
    const ctx = new RecordingContext({ type: 'queue', url: AMQP_URL, source, exchange, bindingKey: 'orders.*', maxBatchWaitMs: 0 });
    const c = await started(ctx);
    expect(c.address.queue).toBe(source);
    ch.publish(exchange, 'orders.created', Buffer.from('yes'));
    ch.publish(exchange, 'payments.created', Buffer.from('no'));
    const events = await ctx.waitForEvents(1);
    await sleep(200);
    expect(ctx.events().map((e) => [e.data, e.subject])).toEqual([['yes', 'orders.created']]);
    expect(events[0].source).toBe(`hks://queue/${source}`);
  });

  it('binds to an existing exchange of another type as it is', async () => {
    const exchange = uniqueName('hkst-fan');
    exchanges.add(exchange);
    await ch.assertExchange(exchange, 'fanout', { durable: false, autoDelete: false });
    const ctx = new RecordingContext({ type: 'queue', source: 'fan', exchange, maxBatchWaitMs: 0 });
    await started(ctx);
    ch.publish(exchange, 'anything', Buffer.from('fanned'));
    expect((await ctx.waitForEvents(1))[0].data).toBe('fanned');
  });

  it("rejects start() with the broker's reason when it refuses the queue", async () => {
    const ctx = new RecordingContext({ type: 'queue', source: 'clash' });
    const name = `${ctx.namespace}.clash`;
    queues.add(name);
    await ch.assertQueue(name, { durable: false });
    const c = new QueueConsumer(ctx);
    await expect(c.start()).rejects.toThrow(new RegExp(`cannot consume RabbitMQ queue "${name}" at amqp://.*PRECONDITION_FAILED.*durable`));
  });

  it('rejects start() when the broker cannot be reached, naming its URL without the password', async () => {
    const ctx = new RecordingContext({ type: 'queue', source: 'nowhere', url: 'amqp://guest:secret@127.0.0.1:1' });
    const c = new QueueConsumer(ctx);
    const err = await c.start().catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^cannot consume RabbitMQ queue "nowhere" at amqp:\/\/guest:\*+@127\.0\.0\.1:1.*ECONNREFUSED/);
    expect((err as Error).message).not.toContain('secret');
  });

  it('publishes a result to {namespace}.{topic} on the platform broker, readable by a plain client', async () => {
    const ns = uniqueName('hkst');
    const queue = `${ns}.results`;
    queues.add(queue);
    const message = { invocationId: 'inv-1', functionId: 'fn-1', status: 'SUCCESS', result: { ok: true }, error: null, eventId: 'order-1' };
    await sourceModule.publish!({ type: 'queue', source: 'orders' }, 'results', message, { namespace: ns, platformAmqpUrl: AMQP_URL });
    const got = await ch.get(queue, { noAck: true });
    expect(got).toBeTruthy();
    expect(JSON.parse((got as amqp.GetMessage).content.toString())).toEqual(message);
    expect((got as amqp.GetMessage).properties.contentType).toBe('application/json');
  });
});
