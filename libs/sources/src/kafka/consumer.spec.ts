import type { ConsumerConfig, KafkaConfig, KafkaMessage, ProducerRecord } from 'kafkajs';
import { RecordingContext, sleep } from '../testing/recording-context';
import { KafkaBatchPayload, KafkaClient, KafkaConsumer, KafkaConsumerClient, KafkaPublisher } from './consumer';

/** A KafkaJS-shaped client without a broker: the test hands batches to eachBatch as a fetch would. */
class FakeKafka implements KafkaClient {
  configs: KafkaConfig[] = [];
  consumers: FakeConsumer[] = [];
  sent: ProducerRecord[] = [];

  factory = (config: KafkaConfig) => {
    this.configs.push(config);
    return this as KafkaClient;
  };

  consumer(config: ConsumerConfig): KafkaConsumerClient {
    const c = new FakeConsumer(config);
    this.consumers.push(c);
    return c;
  }

  producer() {
    return {
      connect: () => Promise.resolve(),
      send: (r: ProducerRecord) => {
        this.sent.push(r);
        return Promise.resolve([]);
      },
      disconnect: () => Promise.resolve(),
    };
  }
}

class FakeConsumer implements KafkaConsumerClient {
  /** What happened, in order: deliver is not here, commits and resolves are. */
  log: string[] = [];
  subscription?: { topics: string[]; fromBeginning?: boolean };
  running = false;
  stale = false;
  heartbeats = 0;
  commits: { topic: string; partition: number; offset: string }[] = [];
  connectError?: Error;
  private eachBatch?: (p: KafkaBatchPayload) => Promise<void>;
  private inFlight = new Set<Promise<void>>();
  disconnected = false;

  constructor(readonly config: ConsumerConfig) {}

  connect() {
    return this.connectError ? Promise.reject(this.connectError) : Promise.resolve();
  }
  subscribe(s: { topics: string[]; fromBeginning?: boolean }) {
    this.subscription = s;
    return Promise.resolve();
  }
  run(config: { autoCommit: boolean; eachBatchAutoResolve: boolean; eachBatch: (p: KafkaBatchPayload) => Promise<void> }) {
    expect(config).toMatchObject({ autoCommit: false, eachBatchAutoResolve: false });
    this.eachBatch = config.eachBatch;
    this.running = true;
    return Promise.resolve();
  }
  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]) {
    this.commits.push(...offsets);
    this.log.push(...offsets.map((o) => `commit ${o.topic}/${o.partition}@${o.offset}`));
    return Promise.resolve();
  }
  /** Like KafkaJS: stop waits for the batch being processed. */
  async stop() {
    this.running = false;
    await Promise.all([...this.inFlight]);
  }
  disconnect() {
    this.disconnected = true;
    return Promise.resolve();
  }

  /** A fetch of one partition's messages, handed to eachBatch; resolves when eachBatch returns. */
  fetch(topic: string, partition: number, messages: KafkaMessage[]): Promise<void> {
    const done = this.eachBatch!({
      batch: { topic, partition, messages },
      resolveOffset: (o) => this.log.push(`resolve ${o}`),
      heartbeat: () => {
        this.heartbeats++;
        return Promise.resolve();
      },
      isRunning: () => this.running,
      isStale: () => this.stale,
    });
    this.inFlight.add(done);
    return done.finally(() => this.inFlight.delete(done));
  }
}

function message(offset: number, value: string, key?: string, headers: Record<string, string> = {}): KafkaMessage {
  return {
    key: key === undefined ? null : Buffer.from(key),
    value: Buffer.from(value),
    timestamp: '1767000000000',
    attributes: 0,
    offset: String(offset),
    headers,
  };
}

describe('kafka consumer (against a fake KafkaJS client: no broker here)', () => {
  async function started(
    trigger: Record<string, unknown>,
    ctx = new RecordingContext({ type: 'kafka', brokers: ['127.0.0.1:9092'], topics: ['orders'], ...trigger }),
  ) {
    const kafka = new FakeKafka();
    const consumer = new KafkaConsumer(ctx, kafka.factory);
    await consumer.start();
    return { ctx, kafka, consumer, fake: kafka.consumers[0] };
  }

  it('joins the group {namespace}.{triggerKey} on the topics, or the one given, from the beginning when asked', async () => {
    const { ctx, fake, kafka } = await started({ fromBeginning: true, maxBatchWaitMs: 250 });
    expect(fake.config).toMatchObject({ groupId: `${ctx.namespace}.${ctx.triggerKey}`, maxWaitTimeInMs: 250 });
    expect(fake.subscription).toEqual({ topics: ['orders'], fromBeginning: true });
    expect(kafka.configs[0]).toMatchObject({ brokers: ['127.0.0.1:9092'], ssl: false, clientId: `hks-${ctx.namespace}.${ctx.triggerKey}` });
    const other = await started({ group: 'billing', topics: ['a', 'b'] });
    expect(other.fake.config.groupId).toBe('billing');
    expect(other.fake.subscription).toEqual({ topics: ['a', 'b'], fromBeginning: false });
  });

  it('maps a message to an event with id {topic}:{partition}:{offset}, the key as subject, and a binary-mode CloudEvent as it is', async () => {
    const { ctx, fake } = await started({});
    await fake.fetch('orders', 3, [
      message(41, '{"n":1}', 'order-1'),
      message(42, '{"x":2}', undefined, { ce_id: 'abc', ce_type: 'com.example.thing', ce_source: '/shop', 'content-type': 'application/json' }),
    ]);
    const [plain, ce] = ctx.events();
    expect(plain).toMatchObject({
      id: 'orders:3:41',
      type: 'hks.kafka.message',
      source: 'hks://kafka/orders',
      subject: 'order-1',
      data: '{"n":1}',
      kafkapartition: 3,
      kafkaoffset: '41',
      kafkakey: 'order-1',
      time: new Date(1767000000000).toISOString(),
    });
    expect(ce).toMatchObject({ id: 'abc', type: 'com.example.thing', source: '/shop', data: { x: 2 }, kafkaoffset: '42' });
  });

  it('delivers a fetched batch batchSize messages at a time and commits each part (next offset) only after deliver resolved', async () => {
    const { ctx, fake } = await started({ batchSize: 2 });
    ctx.deliverDelayMs = 100;
    const fetched = fake.fetch('orders', 0, [message(10, 'a'), message(11, 'b'), message(12, 'c')]);
    await sleep(50);
    expect(ctx.inProgress).toBe(1);
    expect(fake.commits).toEqual([]);
    await fetched;
    expect(ctx.accepted.map((b) => b.map((e) => e.data))).toEqual([['a', 'b'], ['c']]);
    expect(fake.log).toEqual(['resolve 11', 'commit orders/0@12', 'resolve 12', 'commit orders/0@13']);
  });

  it('commits nothing while deliver rejects, tries the same events again with heartbeats, then commits', async () => {
    const { ctx, fake } = await started({});
    ctx.rejectNext = 3;
    await fake.fetch('orders', 1, [message(7, 'keep')]);
    expect(ctx.calls.map((c) => [c.rejected, c.events[0].id])).toEqual([
      [true, 'orders:1:7'],
      [true, 'orders:1:7'],
      [true, 'orders:1:7'],
      [false, 'orders:1:7'],
    ]);
    expect(fake.heartbeats).toBeGreaterThanOrEqual(3);
    expect(fake.commits).toEqual([{ topic: 'orders', partition: 1, offset: '8' }]);
  });

  it('gives up a rejected part uncommitted when the partition is taken away (rebalance)', async () => {
    const { ctx, fake } = await started({ batchSize: 1 });
    ctx.rejectNext = 100;
    const fetched = fake.fetch('orders', 2, [message(5, 'x'), message(6, 'y')]);
    await sleep(150);
    fake.stale = true;
    await fetched;
    expect(fake.commits).toEqual([]);
    expect(ctx.accepted).toEqual([]);
    expect(new Set(ctx.calls.map((c) => c.events[0].id))).toEqual(new Set(['orders:2:5']));
  });

  it('stop() lets the part being delivered finish and commit, leaves the rest uncommitted, and disconnects', async () => {
    const { ctx, fake, consumer } = await started({ batchSize: 1 });
    ctx.deliverDelayMs = 200;
    const fetched = fake.fetch('orders', 0, [message(1, 'first'), message(2, 'second')]);
    await sleep(50);
    await consumer.stop();
    await fetched;
    expect(ctx.events().map((e) => e.data)).toEqual(['first']);
    expect(fake.commits).toEqual([{ topic: 'orders', partition: 0, offset: '2' }]);
    expect(fake.disconnected).toBe(true);
  });

  it('stop() ends a retry of a rejected part without committing it', async () => {
    const { ctx, fake, consumer } = await started({});
    ctx.rejectNext = 100;
    const fetched = fake.fetch('orders', 0, [message(9, 'never accepted')]);
    await sleep(150);
    await consumer.stop();
    await fetched;
    expect(fake.commits).toEqual([]);
    expect(ctx.accepted).toEqual([]);
  });

  it('takes SASL credentials from the secret, and says which keys it needs', async () => {
    const ctx = new RecordingContext({
      type: 'kafka',
      brokers: ['b:9093'],
      topics: ['t'],
      tls: true,
      saslMechanism: 'scram-sha-256',
      saslSecret: 'kafka-creds',
    });
    ctx.secrets['kafka-creds'] = { username: 'u', password: 'p' };
    const { kafka } = await started({}, ctx);
    expect(kafka.configs[0]).toMatchObject({ ssl: true, sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' } });
    ctx.secrets['kafka-creds'] = { username: 'u' };
    await expect(new KafkaConsumer(ctx, new FakeKafka().factory).start()).rejects.toThrow(
      'kafka trigger saslSecret "kafka-creds" needs the keys username and password',
    );
  });

  it('rejects start() naming the topics, group and brokers when the client cannot connect', async () => {
    const kafka = new FakeKafka();
    const ctx = new RecordingContext({ type: 'kafka', brokers: ['127.0.0.1:9092'], topics: ['orders'], group: 'g' });
    const factory = (config: KafkaConfig) => {
      const client = kafka.factory(config);
      return {
        consumer: (c: ConsumerConfig) => {
          const fake = client.consumer(c) as FakeConsumer;
          fake.connectError = new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
          return fake;
        },
        producer: () => client.producer(),
      };
    };
    await expect(new KafkaConsumer(ctx, factory).start()).rejects.toThrow(
      'cannot consume Kafka topics orders (group g) at 127.0.0.1:9092: Connection error: connect ECONNREFUSED 127.0.0.1:9092',
    );
    expect(kafka.consumers[0].disconnected).toBe(true);
  });

  it('publishes a result as JSON keyed by the event id', async () => {
    const kafka = new FakeKafka();
    const publisher = new KafkaPublisher(kafka.factory);
    const message = { invocationId: 'i1', functionId: 'f1', status: 'SUCCESS', result: 1, error: null, eventId: 'orders:0:5' };
    await publisher.publish({ type: 'kafka', brokers: ['127.0.0.1:9092'], topics: ['orders'] }, 'results', message, { namespace: 'hks', platformAmqpUrl: '' });
    expect(kafka.sent).toEqual([
      { topic: 'results', messages: [{ key: 'orders:0:5', value: JSON.stringify(message), headers: { 'content-type': 'application/json' } }] },
    ]);
    await publisher.close();
  });
});
