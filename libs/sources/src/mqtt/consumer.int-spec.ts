import mqtt, { MqttClient } from 'mqtt';
import { uniqueName } from '@platform/testing';
import { RecordingContext, sleep } from '../testing/recording-context';
import { MqttConsumer, sourceModule } from './consumer';

const MQTT_URL = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';

describe('mqtt consumer', () => {
  let pub: MqttClient;
  const running: MqttConsumer[] = [];
  const clientIds = new Set<string>();

  beforeAll(async () => {
    pub = await mqtt.connectAsync(MQTT_URL, { protocolVersion: 5 });
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop()));
  });

  afterAll(async () => {
    await sourceModule.close?.();
    await pub.endAsync();
    // A clean start ends the persistent sessions the tests made.
    for (const clientId of clientIds) (await mqtt.connectAsync(MQTT_URL, { clientId, clean: true, protocolVersion: 5 })).end(true);
  });

  async function started(ctx: RecordingContext): Promise<MqttConsumer> {
    const c = new MqttConsumer(ctx);
    clientIds.add(c.clientId);
    await c.start();
    running.push(c);
    return c;
  }

  const topicOf = () => `hkst/${uniqueName('t')}`;
  const send = (topic: string, payload: string) => pub.publishAsync(topic, payload, { qos: 1 });

  it('delivers each QoS 1 message once across two replicas of one trigger (shared subscription)', async () => {
    const base = topicOf();
    const a = new RecordingContext({ type: 'mqtt', topic: `${base}/+/temperature`, maxBatchWaitMs: 20 });
    const b = new RecordingContext(a.trigger, { namespace: a.namespace, triggerKey: a.triggerKey, instanceId: '1' });
    const ca = await started(a);
    const cb = await started(b);
    expect(ca.filter).toBe(`$share/${a.namespace}-${a.triggerKey}/${base}/+/temperature`);
    expect(ca.clientId).not.toBe(cb.clientId);
    for (let i = 0; i < 20; i++) await send(`${base}/s${i}/temperature`, `${i}`);
    await sleep(500);
    const all = [...a.events(), ...b.events()];
    expect(all.map((e) => Number(e.data)).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(a.events().length).toBeGreaterThan(0);
    expect(b.events().length).toBeGreaterThan(0);
    expect(new Set(all.map((e) => e.id)).size).toBe(20);
    expect(all[0]).toMatchObject({ type: 'hks.mqtt.message', source: `hks://mqtt/${base}/+/temperature`, mqttqos: 1, mqttretain: false });
    expect(all[0].subject).toMatch(new RegExp(`^${base}/s\\d+/temperature$`));
  });

  it('gives equal payloads different ids (they are different readings)', async () => {
    const topic = topicOf();
    const ctx = new RecordingContext({ type: 'mqtt', topic, maxBatchWaitMs: 0 });
    await started(ctx);
    await send(topic, '21.5');
    await send(topic, '21.5');
    const events = await ctx.waitForEvents(2);
    expect(events.map((e) => e.data)).toEqual(['21.5', '21.5']);
    expect(events[0].id).not.toBe(events[1].id);
  });

  it('batches by size and by wait', async () => {
    const topic = topicOf();
    const ctx = new RecordingContext({ type: 'mqtt', topic, batchSize: 3, maxBatchWaitMs: 300 });
    await started(ctx);
    const t0 = Date.now();
    for (let i = 0; i < 4; i++) await send(topic, `m${i}`);
    await ctx.waitForEvents(3, 250);
    await ctx.waitForEvents(4);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(ctx.accepted.map((b) => b.map((e) => e.data))).toEqual([['m0', 'm1', 'm2'], ['m3']]);
  });

  it('tries a rejected batch again until it is accepted, as the same events, and acknowledges it only then', async () => {
    const topic = topicOf();
    const ctx = new RecordingContext({ type: 'mqtt', topic, maxBatchWaitMs: 0 });
    ctx.rejectNext = 2;
    const c = await started(ctx);
    await send(topic, 'keep me');
    await ctx.waitForEvents(1);
    expect(ctx.calls.map((x) => [x.rejected, x.events[0].data])).toEqual([
      [true, 'keep me'],
      [true, 'keep me'],
      [false, 'keep me'],
    ]);
    expect(new Set(ctx.calls.map((x) => x.events[0].id)).size).toBe(1);
    // Acknowledged: a new session of the same replica gets nothing again.
    await c.stop();
    await started(ctx);
    await sleep(300);
    expect(ctx.events()).toHaveLength(1);
  });

  it('keeps what was not delivered at stop(), and what is published after it, for the next start of the replica', async () => {
    const topic = topicOf();
    const ctx = new RecordingContext({ type: 'mqtt', topic, batchSize: 10, maxBatchWaitMs: 60_000 });
    const c = await started(ctx);
    await send(topic, 'waiting in a batch');
    await sleep(100);
    await c.stop();
    await send(topic, 'after stop');
    await sleep(200);
    expect(ctx.calls).toHaveLength(0);
    ctx.trigger = { ...ctx.trigger, maxBatchWaitMs: 50 };
    await started(ctx);
    const events = await ctx.waitForEvents(2);
    expect(events.map((e) => e.data)).toEqual(['waiting in a batch', 'after stop']);
  });

  it('finishes a deliver in progress at stop() and acknowledges it', async () => {
    const topic = topicOf();
    const ctx = new RecordingContext({ type: 'mqtt', topic, maxBatchWaitMs: 0 });
    ctx.deliverDelayMs = 400;
    const c = await started(ctx);
    await send(topic, 'slow');
    await sleep(150);
    await c.stop();
    expect(ctx.events().map((e) => e.data)).toEqual(['slow']);
    ctx.deliverDelayMs = 0;
    await started(ctx);
    await sleep(300);
    expect(ctx.events()).toHaveLength(1);
  });

  it('delivers a message again with the same id when the connection dropped before its PUBACK', async () => {
    const topic = topicOf();
    const ctx = new RecordingContext({ type: 'mqtt', topic, maxBatchWaitMs: 0 });
    ctx.deliverDelayMs = 300;
    const c = await started(ctx);
    await send(topic, 'across a reconnect');
    await sleep(100);
    (c as unknown as { client: MqttClient }).client.stream.destroy();
    await ctx.waitForEvents(2, 5_000);
    const [first, again] = ctx.events();
    expect(again.data).toBe('across a reconnect');
    expect(again.id).toBe(first.id);
    await sleep(500);
    expect(ctx.events()).toHaveLength(2);
  });

  it('rejects start() when the broker cannot be reached, and when there is no url', async () => {
    const c = new MqttConsumer(new RecordingContext({ type: 'mqtt', topic: 'x', url: 'mqtt://u:pw@127.0.0.1:1' }));
    const err = (await c.start().catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/^cannot subscribe to MQTT \$share\/.*\/x at mqtt:\/\/u:\*+@127\.0\.0\.1:1: .*ECONNREFUSED/);
    const none = new MqttConsumer(new RecordingContext({ type: 'mqtt', topic: 'x' }, { mqttUrl: undefined }));
    await expect(none.start()).rejects.toThrow('mqtt trigger has no "url" and the platform has no MQTT_URL');
  });

  it('publishes a result at QoS 1 that a plain subscriber reads', async () => {
    const topic = topicOf();
    const sub = await mqtt.connectAsync(MQTT_URL, { protocolVersion: 5 });
    const got = new Promise<string>((resolve) => sub.on('message', (_t, m) => resolve(m.toString())));
    await sub.subscribeAsync(topic, { qos: 1 });
    const message = { invocationId: 'i1', functionId: 'f1', status: 'SUCCESS', result: { t: 21 }, error: null, eventId: 'e1' };
    await sourceModule.publish!({ type: 'mqtt', topic: 'x' }, topic, message, { namespace: 'hkst', platformAmqpUrl: '', mqttUrl: MQTT_URL });
    expect(JSON.parse(await got)).toEqual(message);
    await sub.endAsync();
  });
});
