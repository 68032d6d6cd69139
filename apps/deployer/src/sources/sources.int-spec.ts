import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import amqplib from 'amqplib';
import mqtt, { MqttClient } from 'mqtt';
import { connect as connectNats, JetStreamManager, NatsConnection, StringCodec } from 'nats';
import S3rver from 's3rver';
import { DeploymentPatterns, DeploymentView, InvocationPage, InvocationPatterns, InvocationView, SourcePatterns } from '@platform/contracts';
import { uniqueName, waitFor } from '@platform/testing';
import { DeployerHarness } from '../../test-fixtures/deployer-harness';
import { RecordedCall } from '../../test-fixtures/fake-invoker';

jest.setTimeout(60_000);

/** What a handler gets: the data of the invocation's body (the CloudEvent). */
const eventOf = (c: RecordedCall) => (c.body as { data: Record<string, unknown> }).data;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The retry policy of the failing cases: three attempts, 300 ms then 600 ms apart. */
const RETRY = { attempts: 3, initialDelayMs: 300, multiplier: 2, maxDelayMs: 2_000, jitter: 'none' };
const BOOM = { status: 500, body: { statusCode: 500, error: 'Internal Server Error', message: 'handler raised' } };

/** One trigger on its own address of a source system, and how a plain client of that system sends to it. */
interface Wired {
  trigger: Record<string, unknown>;
  /** Sends message `n` as the system's own client would (`functionId`: where a webhook posts it). */
  send(n: number, functionId: string): Promise<void>;
  /** What the handler's event of message `n` holds. */
  event(n: number): Record<string, unknown>;
}

/**
 * A source system as the cases below use it. `afterUndeploy`: what becomes of a message sent while the function is
 * not deployed: kept for the next deploy (a durable consumer, a persistent session, a watermark), lost (core NATS
 * keeps nothing), or refused (a webhook answers 404, so the sender keeps it).
 */
interface SourceSystem {
  name: string;
  kind: string;
  afterUndeploy: 'kept' | 'lost' | 'refused';
  /** How long to wait for a message that should not come before saying it did not. */
  quietMs: number;
  wire(): Promise<Wired>;
}

describe('event sources through the deployer: plain clients of RabbitMQ, NATS, Mosquitto and an S3 server (s3rver)', () => {
  const h = new DeployerHarness();
  const closers: (() => Promise<unknown>)[] = [];
  /** Queues the queue triggers made on the platform's broker, removed at the end. */
  const queues: string[] = [];
  let amqp: amqplib.ChannelModel;
  let channel: amqplib.Channel;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let publisher: MqttClient;
  let s3: S3Client;
  let s3Endpoint = '';
  const sc = StringCodec();
  const body = (n: number) => `{"n":${n}}`;

  const deploy = (functionId: string) => h.call<DeploymentView>(DeploymentPatterns.Deploy, { functionId });
  const undeploy = (functionId: string) => h.call<DeploymentView>(DeploymentPatterns.Undeploy, { functionId });
  const list = (functionId: string, status: string) => h.call<InvocationPage>(InvocationPatterns.List, { functionId, status });
  const calls = (functionId: string) => h.invoker.invocations(functionId);

  const systems: SourceSystem[] = [
    {
      name: 'RabbitMQ queue (the platform broker)',
      kind: 'queue',
      afterUndeploy: 'kept',
      quietMs: 500,
      wire: () => {
        const source = uniqueName('orders-');
        const queue = `${h.env.HKS_NAMESPACE}.${source}`;
        queues.push(queue);
        return Promise.resolve({
          trigger: { type: 'queue', source, maxBatchWaitMs: 50 },
          // The queue is the consumer's: declared (durable) once the function is deployed.
          send: (n) => Promise.resolve(void channel.sendToQueue(queue, Buffer.from(body(n)), { persistent: true })),
          event: (n) => ({ type: 'hks.queue.message', data: body(n) }),
        });
      },
    },
    {
      name: 'NATS core subject',
      kind: 'nats',
      afterUndeploy: 'lost',
      quietMs: 500,
      wire: () => {
        const subject = `${uniqueName('hks.core.')}.placed`;
        return Promise.resolve({
          trigger: { type: 'nats', subject, maxBatchWaitMs: 50 },
          send: async (n) => {
            nc.publish(subject, sc.encode(body(n)));
            await nc.flush();
          },
          event: (n) => ({ type: 'hks.nats.message', subject, data: body(n) }),
        });
      },
    },
    {
      name: 'NATS JetStream',
      kind: 'nats',
      afterUndeploy: 'kept',
      quietMs: 500,
      wire: async () => {
        const stream = uniqueName('HKS_ORDERS_').replace(/-/g, '_');
        const subject = `${stream.toLowerCase()}.placed`;
        await jsm.streams.add({ name: stream, subjects: [`${stream.toLowerCase()}.*`] });
        closers.push(() => jsm.streams.delete(stream));
        return {
          trigger: { type: 'nats', subject, stream, maxBatchWaitMs: 50 },
          send: async (n) => void (await nc.jetstream().publish(subject, sc.encode(body(n)))),
          event: (n) => ({ type: 'hks.nats.message', subject, data: body(n), natsstream: stream, id: expect.stringMatching(new RegExp(`^${stream}:\\d+$`)) }),
        };
      },
    },
    {
      name: 'MQTT (Mosquitto), QoS 1 on a topic filter',
      kind: 'mqtt',
      afterUndeploy: 'kept',
      quietMs: 500,
      wire: () => {
        const topic = uniqueName('hks-sensors-');
        return Promise.resolve({
          trigger: { type: 'mqtt', topic: `${topic}/+/temperature`, maxBatchWaitMs: 50 },
          send: async (n) => {
            // A message beside the filter goes with each one: it must reach nothing.
            await publisher.publishAsync(`${topic}/room${n}/humidity`, body(n), { qos: 1 });
            await publisher.publishAsync(`${topic}/room${n}/temperature`, body(n), { qos: 1 });
          },
          event: (n) => ({ type: 'hks.mqtt.message', subject: `${topic}/room${n}/temperature`, data: body(n) }),
        });
      },
    },
    {
      name: 'S3 polling (s3rver)',
      kind: 's3',
      afterUndeploy: 'kept',
      quietMs: 2_500,
      wire: async () => {
        const bucket = uniqueName('hks-up-');
        await s3.send(new CreateBucketCommand({ Bucket: bucket }));
        return {
          trigger: { type: 's3', mode: 'poll', bucket, endpoint: s3Endpoint, credentialsSecret: 's3rver', pollIntervalMs: 1_000, prefix: 'in/' },
          send: async (n) => {
            await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `in/${n}.json`, Body: body(n) }));
            await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `out/${n}.json`, Body: body(n) }));
          },
          event: (n) => ({
            type: 's3:ObjectCreated:Put',
            source: `hks://s3/${bucket}`,
            subject: `in/${n}.json`,
            data: expect.objectContaining({ s3: expect.objectContaining({ object: expect.objectContaining({ key: `in/${n}.json`, size: body(n).length }) }) }),
          }),
        };
      },
    },
    {
      name: 'S3 bucket notification webhook (MinIO format)',
      kind: 's3',
      afterUndeploy: 'refused',
      quietMs: 500,
      wire: () => {
        const bucket = uniqueName('hks-hook-');
        const record = (n: number, key: string) => ({
          eventVersion: '2.0',
          eventSource: 'minio:s3',
          eventTime: new Date().toISOString(),
          eventName: 's3:ObjectCreated:Put',
          s3: { bucket: { name: bucket }, object: { key, size: 7, eTag: `etag${n}`, sequencer: `seq${n}` } },
        });
        return Promise.resolve({
          trigger: { type: 's3', bucket, prefix: 'in/' },
          send: async (n, functionId) => {
            const notification = {
              EventName: 's3:ObjectCreated:Put',
              Key: `${bucket}/in/${n}.json`,
              Records: [record(n, `in/${n}.json`), record(n, `out/${n}.json`)],
            };
            // MinIO retries a notification it got no answer to: the same records again make no second invocation.
            for (let i = 0; i < 2; i++) await h.call(SourcePatterns.S3Notification, { functionId, body: notification });
          },
          event: (n) => ({
            type: 's3:ObjectCreated:Put',
            source: `hks://s3/${bucket}`,
            subject: `in/${n}.json`,
            id: `${bucket}/in/${n}.json@seq${n}:s3:ObjectCreated:Put`,
          }),
        });
      },
    },
  ];

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hks-s3rver-'));
    const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir });
    s3Endpoint = `http://127.0.0.1:${(await server.run()).port}`;
    const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
    s3 = new S3Client({ endpoint: s3Endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
    closers.push(async () => {
      s3.destroy();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    });
    nc = await connectNats({ servers: 'nats://127.0.0.1:4222' });
    jsm = await nc.jetstreamManager();
    publisher = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { clientId: uniqueName('hks-test-pub-') });
    // No event store runs here: an invocation's view (its attempts' logs) does not wait long for one.
    await h.start({ DEPLOYER_ASYNC_PUMP_INTERVAL_MS: '100', DEPLOYER_EVENT_STORE_TIMEOUT_MS: '200' });
    h.registry.namedSecrets.set('s3rver', credentials);
    amqp = await amqplib.connect(h.env.AMQP_URL);
    channel = await amqp.createChannel();
  });

  afterAll(async () => {
    await amqp?.close();
    await h.stop(queues);
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await publisher?.endAsync();
    await nc?.close();
  });

  /** A function with the system's trigger (and `extra` delivery settings), deployed. */
  async function deployed(system: SourceSystem, label: string, extra: Record<string, unknown> = {}, ...answers: (typeof BOOM)[]) {
    const wired = await system.wire();
    const spec = h.registry.addFunction(label, { triggers: [{ ...wired.trigger, ...extra } as never] });
    if (answers.length) h.invoker.answerInvoke(spec.functionId, ...answers);
    const view = await deploy(spec.functionId);
    expect(view.status).toBe('READY');
    return { ...wired, functionId: spec.functionId, send: (n: number) => wired.send(n, spec.functionId) };
  }

  describe.each(systems)('$name', (system) => {
    it('hands each message a plain client sends to one invocation, once', async () => {
      const fn = await deployed(system, uniqueName('once-'));
      for (const n of [1, 2, 3]) await fn.send(n);

      await waitFor(() => calls(fn.functionId).length >= 3, { what: 'three messages delivered' });
      await sleep(system.quietMs);
      const events = calls(fn.functionId).map(eventOf);
      expect(events).toHaveLength(3);
      expect(events).toEqual(expect.arrayContaining([1, 2, 3].map((n) => expect.objectContaining({ specversion: '1.0', ...fn.event(n) }))));
      expect(calls(fn.functionId).every((c) => c.headers['x-hks-trigger'] === system.kind)).toBe(true);
      await waitFor(async () => (await list(fn.functionId, 'succeeded')).items.length === 3, { what: 'three invocations succeeded' });
      expect((await list(fn.functionId, 'succeeded')).items.every((i) => i.source === system.kind)).toBe(true);
      await undeploy(fn.functionId);
    });

    it('retries a failing handler as its trigger says (attempts and backoff), then leaves it in the dead letters; redrive runs it again', async () => {
      const fn = await deployed(system, uniqueName('failing-'), { retry: RETRY }, BOOM, BOOM, BOOM);
      await fn.send(1);

      await waitFor(async () => (await list(fn.functionId, 'dead')).items.length === 1, { what: 'a dead invocation', timeoutMs: 20_000 });
      const [dead] = (await list(fn.functionId, 'dead')).items;
      const view = await h.call<InvocationView>(InvocationPatterns.Get, { id: dead.id });
      expect(view).toMatchObject({ source: system.kind, status: 'dead', maxAttempts: 3 });
      expect(view.error).toContain('all 3 attempt(s) failed');
      expect(view.attempts.map((a) => a.outcome)).toEqual(['5xx', '5xx', '5xx']);
      // The pauses between attempts are the policy's: 300 ms, then 600 ms (no jitter), plus a pump round or a busy machine.
      const gaps = view.attempts.slice(1).map((a, i) => Date.parse(a.startedAt) - Date.parse(view.attempts[i].endedAt!));
      expect(gaps[0]).toBeGreaterThanOrEqual(300);
      expect(gaps[0]).toBeLessThan(1_000);
      expect(gaps[1]).toBeGreaterThanOrEqual(600);
      expect(gaps[1]).toBeLessThan(1_300);
      await sleep(system.quietMs);
      // One message, three attempts: the failure is not redelivered by the source in a loop.
      expect(calls(fn.functionId)).toHaveLength(3);
      expect(calls(fn.functionId).map(eventOf)).toEqual(Array(3).fill(expect.objectContaining(fn.event(1))));

      const redriven = await h.call<InvocationView>(InvocationPatterns.Redrive, { id: dead.id });
      expect(['queued', 'running']).toContain(redriven.status);
      await waitFor(async () => (await h.call<InvocationView>(InvocationPatterns.Get, { id: dead.id })).status === 'succeeded', { what: 'the redriven run' });
      expect(calls(fn.functionId)).toHaveLength(4);
      expect(eventOf(calls(fn.functionId)[3])).toMatchObject(fn.event(1));
      expect((await list(fn.functionId, 'dead')).items).toEqual([]);
      await undeploy(fn.functionId);
    });

    it(`stops consuming when the function is undeployed: a message sent then runs nothing (${system.afterUndeploy})`, async () => {
      const fn = await deployed(system, uniqueName('undeployed-'));
      await fn.send(1);
      await waitFor(() => calls(fn.functionId).length === 1, { what: 'the first message' });
      await undeploy(fn.functionId);

      const sent = fn.send(2);
      if (system.afterUndeploy === 'refused') await expect(sent).rejects.toMatchObject({ statusCode: 404 });
      else await sent;
      await sleep(system.quietMs);
      expect(calls(fn.functionId)).toHaveLength(1);

      // Deployed again: what the system kept comes now, and only that.
      await deploy(fn.functionId);
      if (system.afterUndeploy === 'kept') await waitFor(() => calls(fn.functionId).length === 2, { what: 'the message sent while undeployed' });
      await fn.send(3);
      const expected = system.afterUndeploy === 'kept' ? [1, 2, 3] : [1, 3];
      await waitFor(() => calls(fn.functionId).length === expected.length, { what: 'the message sent after the new deploy' });
      await sleep(system.quietMs);
      expect(calls(fn.functionId).map(eventOf)).toEqual(expected.map((n) => expect.objectContaining(fn.event(n))));
      await undeploy(fn.functionId);
    });
  });

  it('accepts the records of an S3 bucket notification (MinIO, AWS, SNS) that match the s3 trigger, once each', async () => {
    const spec = h.registry.addFunction('on-upload', { triggers: [{ type: 's3', bucket: 'uploads', events: ['s3:ObjectCreated:*'], prefix: 'images/' }] });
    await deploy(spec.functionId);
    const record = (eventName: string, key: string, eTag: string) => ({
      eventVersion: '2.0',
      eventSource: 'minio:s3',
      eventTime: '2026-12-03T09:00:00.000Z',
      eventName,
      s3: { bucket: { name: 'uploads' }, object: { key, size: 3, eTag } },
    });
    const notification = {
      EventName: 's3:ObjectCreated:Put',
      Records: [
        record('s3:ObjectCreated:Put', 'images/cat.png', 'e1'),
        record('s3:ObjectCreated:Put', 'docs/a.txt', 'e2'),
        record('s3:ObjectRemoved:Delete', 'images/old.png', 'e3'),
      ],
    };
    const answer = await h.call(SourcePatterns.S3Notification, { functionId: spec.functionId, body: notification });
    expect(answer).toEqual({ functionId: spec.functionId, records: 3, accepted: 1 });
    // Sent again (the sender retried): the same invocation, not a second one. AWS's names lack "s3:"; SNS wraps them.
    const sns = {
      Type: 'Notification',
      Message: JSON.stringify({ Records: [{ ...record('ObjectCreated:Put', 'images/cat.png', 'e1'), eventName: 'ObjectCreated:Put' }] }),
    };
    await h.call(SourcePatterns.S3Notification, { functionId: spec.functionId, body: notification });
    await h.call(SourcePatterns.S3Notification, { functionId: spec.functionId, body: sns });
    await waitFor(() => h.invoker.invocations(spec.functionId).length >= 1, { what: 'the notified object' });
    await new Promise((r) => setTimeout(r, 500));
    const events = h.invoker.invocations(spec.functionId).map(eventOf);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 's3:ObjectCreated:Put', source: 'hks://s3/uploads', subject: 'images/cat.png' });
    expect((events[0].data as { s3: { object: { key: string } } }).s3.object.key).toBe('images/cat.png');

    await expect(h.call(SourcePatterns.S3Notification, { functionId: spec.functionId, body: { hello: 1 } })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringContaining('not an S3 event notification'),
    });
    await undeploy(spec.functionId);
    await expect(h.call(SourcePatterns.S3Notification, { functionId: spec.functionId, body: notification })).rejects.toMatchObject({ statusCode: 404 });
  });
});
