import { connect, headers as natsHeaders, JetStreamManager, NatsConnection, StringCodec } from 'nats';
import { uniqueName } from '@platform/testing';
import { RecordingContext, sleep } from '../testing/recording-context';
import { natsDurable, NatsConsumer, sourceModule } from './consumer';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const sc = StringCodec();

describe('nats consumer', () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const streams: string[] = [];
  const running: NatsConsumer[] = [];

  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL });
    jsm = await nc.jetstreamManager();
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop()));
  });

  afterAll(async () => {
    await sourceModule.close?.();
    for (const s of streams) await jsm.streams.delete(s).catch(() => undefined);
    await nc.close();
  });

  async function started(ctx: RecordingContext): Promise<NatsConsumer> {
    const c = new NatsConsumer(ctx);
    await c.start();
    running.push(c);
    return c;
  }

  describe('core NATS (queue group)', () => {
    it('delivers each message once across two replicas of one trigger', async () => {
      const subject = `${uniqueName('hkst')}.orders`;
      const a = new RecordingContext({ type: 'nats', subject: `${subject.split('.')[0]}.*`, maxBatchWaitMs: 20 });
      const b = new RecordingContext(a.trigger, { namespace: a.namespace, triggerKey: a.triggerKey });
      await started(a);
      await started(b);
      for (let i = 0; i < 20; i++) nc.publish(subject, sc.encode(`m${i}`));
      await nc.flush();
      await sleep(500);
      const all = [...a.events(), ...b.events()];
      expect(all.map((e) => e.data).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`).sort());
      expect(a.events().length).toBeGreaterThan(0);
      expect(b.events().length).toBeGreaterThan(0);
      expect(all[0]).toMatchObject({ type: 'hks.nats.message', source: `hks://nats/${a.trigger.subject}`, subject });
    });

    it('batches by size and by wait', async () => {
      const subject = uniqueName('hkst');
      const ctx = new RecordingContext({ type: 'nats', subject, batchSize: 3, maxBatchWaitMs: 300 });
      await started(ctx);
      for (let i = 0; i < 4; i++) nc.publish(subject, sc.encode(`m${i}`));
      const t0 = Date.now();
      await ctx.waitForEvents(3, 250);
      await ctx.waitForEvents(4);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
      expect(ctx.accepted.map((b) => b.map((e) => e.data))).toEqual([['m0', 'm1', 'm2'], ['m3']]);
    });

    it('tries a rejected batch again until it is accepted, as the same events', async () => {
      const subject = uniqueName('hkst');
      const ctx = new RecordingContext({ type: 'nats', subject, maxBatchWaitMs: 0 });
      ctx.rejectNext = 2;
      await started(ctx);
      const h = natsHeaders();
      h.set('Nats-Msg-Id', 'order-7');
      nc.publish(subject, sc.encode('keep me'), { headers: h });
      await ctx.waitForEvents(1);
      expect(ctx.calls.map((c) => [c.rejected, c.events[0].id, c.events[0].data])).toEqual([
        [true, 'order-7', 'keep me'],
        [true, 'order-7', 'keep me'],
        [false, 'order-7', 'keep me'],
      ]);
    });

    it('delivers nothing published after stop()', async () => {
      const subject = uniqueName('hkst');
      const ctx = new RecordingContext({ type: 'nats', subject, maxBatchWaitMs: 0 });
      const c = await started(ctx);
      nc.publish(subject, sc.encode('before'));
      await ctx.waitForEvents(1);
      await c.stop();
      nc.publish(subject, sc.encode('after'));
      await nc.flush();
      await sleep(200);
      expect(ctx.events().map((e) => e.data)).toEqual(['before']);
    });

    it('publishes a result on a subject a plain subscriber reads', async () => {
      const subject = uniqueName('hkst');
      const got = new Promise<string>((resolve) => nc.subscribe(subject, { max: 1, callback: (_e, m) => resolve(sc.decode(m.data)) }));
      await nc.flush();
      const message = { invocationId: 'i1', functionId: 'f1', status: 'SUCCESS', result: 42, error: null, eventId: 'e1' };
      await sourceModule.publish!({ type: 'nats', subject: 'x' }, subject, message, { namespace: 'hkst', platformAmqpUrl: '', natsUrl: NATS_URL });
      expect(JSON.parse(await got)).toEqual(message);
    });

    it('rejects start() when no server answers, and when there is no url at all', async () => {
      const c = new NatsConsumer(new RecordingContext({ type: 'nats', subject: 'x', url: 'nats://127.0.0.1:1' }));
      await expect(c.start()).rejects.toThrow(/^cannot consume NATS subject x: cannot connect to NATS at nats:\/\/127\.0\.0\.1:1: /);
      const none = new NatsConsumer(new RecordingContext({ type: 'nats', subject: 'x' }, { natsUrl: undefined }));
      await expect(none.start()).rejects.toThrow('nats trigger has no "url" and the platform has no NATS_URL');
    });
  });

  describe('JetStream (durable pull consumer)', () => {
    async function stream(): Promise<{ name: string; subject: string }> {
      const name = uniqueName('HKST');
      streams.push(name);
      await jsm.streams.add({ name, subjects: [`${name}.>`] });
      return { name, subject: `${name}.orders` };
    }

    async function pending(name: string, durable: string) {
      const info = await jsm.consumers.info(name, durable);
      return { pending: info.num_pending, unacked: info.num_ack_pending };
    }

    it('delivers messages stored before and after start once, with id {stream}:{seq}, and acknowledges them', async () => {
      const s = await stream();
      const js = nc.jetstream();
      await js.publish(s.subject, sc.encode('early'));
      const ctx = new RecordingContext({ type: 'nats', subject: `${s.name}.*`, stream: s.name, batchSize: 2, maxBatchWaitMs: 100 });
      await started(ctx);
      await js.publish(s.subject, sc.encode('late'));
      const events = await ctx.waitForEvents(2);
      expect(events.map((e) => [e.id, e.data, e.subject, e.natsstream, e.natsseq])).toEqual([
        [`${s.name}:1`, 'early', s.subject, s.name, 1],
        [`${s.name}:2`, 'late', s.subject, s.name, 2],
      ]);
      await sleep(200);
      expect(ctx.events()).toHaveLength(2);
      expect(await pending(s.name, natsDurable(ctx.trigger, ctx))).toEqual({ pending: 0, unacked: 0 });
    });

    it('redelivers a batch whose deliver rejected (nak with a delay), with the same id, until accepted', async () => {
      const s = await stream();
      const ctx = new RecordingContext({ type: 'nats', subject: s.subject, stream: s.name, durable: 'retrying', maxBatchWaitMs: 0 });
      ctx.rejectNext = 2;
      await started(ctx);
      await nc.jetstream().publish(s.subject, sc.encode('precious'));
      await ctx.waitForEvents(1);
      expect(ctx.calls.map((c) => [c.rejected, c.events[0].id])).toEqual([
        [true, `${s.name}:1`],
        [true, `${s.name}:1`],
        [false, `${s.name}:1`],
      ]);
      await sleep(200);
      expect(await pending(s.name, 'retrying')).toEqual({ pending: 0, unacked: 0 });
    });

    it('leaves what is published after stop() in the stream for the durable, and the next start delivers it', async () => {
      const s = await stream();
      const ctx = new RecordingContext({ type: 'nats', subject: s.subject, stream: s.name, maxBatchWaitMs: 0 });
      const c = await started(ctx);
      const js = nc.jetstream();
      await js.publish(s.subject, sc.encode('before'));
      await ctx.waitForEvents(1);
      await c.stop();
      await js.publish(s.subject, sc.encode('after'));
      await sleep(300);
      expect(ctx.events().map((e) => e.data)).toEqual(['before']);
      expect(await pending(s.name, natsDurable(ctx.trigger, ctx))).toEqual({ pending: 1, unacked: 0 });
      await started(ctx);
      await ctx.waitForEvents(2);
      expect(ctx.events().map((e) => [e.data, e.id])).toEqual([
        ['before', `${s.name}:1`],
        ['after', `${s.name}:2`],
      ]);
    });

    it('finishes a deliver in progress at stop() and acknowledges it', async () => {
      const s = await stream();
      const ctx = new RecordingContext({ type: 'nats', subject: s.subject, stream: s.name, durable: 'slow', maxBatchWaitMs: 0 });
      ctx.deliverDelayMs = 400;
      const c = await started(ctx);
      await nc.jetstream().publish(s.subject, sc.encode('slow'));
      await sleep(150);
      await c.stop();
      expect(ctx.events().map((e) => e.data)).toEqual(['slow']);
      expect(await pending(s.name, 'slow')).toEqual({ pending: 0, unacked: 0 });
    });

    it('rejects start() when the stream does not exist', async () => {
      const c = new NatsConsumer(new RecordingContext({ type: 'nats', subject: 'nope.x', stream: 'HKST_NO_SUCH_STREAM' }));
      await expect(c.start()).rejects.toThrow(/^cannot consume JetStream stream "HKST_NO_SUCH_STREAM" \(subject nope\.x\): stream not found/);
    });

    it('publishes a result into the stream, once per invocation and status', async () => {
      const s = await stream();
      const message = { invocationId: 'i2', functionId: 'f1', status: 'FAILURE', result: null, error: 'boom', eventId: 'e2' };
      const trigger = { type: 'nats', subject: s.subject, stream: s.name };
      const ctx = { namespace: 'hkst', platformAmqpUrl: '', natsUrl: NATS_URL };
      await sourceModule.publish!(trigger, `${s.name}.errors`, message, ctx);
      await sourceModule.publish!(trigger, `${s.name}.errors`, message, ctx);
      const info = await jsm.streams.info(s.name);
      expect(info.state.messages).toBe(1);
      const stored = await jsm.streams.getMessage(s.name, { seq: 1 });
      expect(stored.subject).toBe(`${s.name}.errors`);
      expect(JSON.parse(sc.decode(stored.data))).toEqual(message);
    });
  });
});
