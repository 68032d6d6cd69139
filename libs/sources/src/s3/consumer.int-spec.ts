import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { uniqueName } from '@platform/testing';
import { RecordingContext, sleep } from '../testing/recording-context';
import { S3Poller, S3Watermark, sourceModule, WATERMARK_KEY } from './consumer';

const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

describe('s3 poller (against s3rver)', () => {
  let dir: string;
  let server: S3rver;
  let endpoint: string;
  let s3: S3Client;
  const running: S3Poller[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hks-s3rver-'));
    server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir });
    const { port } = await server.run();
    endpoint = `http://127.0.0.1:${port}`;
    s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS });
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.stop()));
  });

  afterAll(async () => {
    s3.destroy();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function bucket(): Promise<string> {
    const name = uniqueName('hkst-');
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    return name;
  }

  const put = (b: string, key: string, body: string) => s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: body }));

  function context(b: string, extra: Record<string, unknown> = {}, like?: RecordingContext): RecordingContext {
    const ctx = new RecordingContext(
      { type: 's3', mode: 'poll', bucket: b, endpoint, credentialsSecret: 's3', pollIntervalMs: 150, ...extra },
      like ? { namespace: like.namespace, triggerKey: like.triggerKey } : {},
    );
    ctx.secrets.s3 = CREDENTIALS;
    if (like) ctx.state = like.state;
    return ctx;
  }

  async function started(ctx: RecordingContext): Promise<S3Poller> {
    const p = sourceModule.create(ctx) as S3Poller;
    await p.start();
    running.push(p);
    return p;
  }

  /** Waits until the poller has looked (the watermark is stored). */
  const looked = (ctx: RecordingContext) => waitUntil(() => ctx.stateValues.has(WATERMARK_KEY));

  async function waitUntil(probe: () => boolean, timeoutMs = 5_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!probe()) {
      if (Date.now() > end) throw new Error('timed out');
      await sleep(20);
    }
  }

  it('records what is there at the first look, then delivers new objects as s3:ObjectCreated events, batchSize at a time', async () => {
    const b = await bucket();
    await put(b, 'old.txt', 'old');
    const ctx = context(b, { batchSize: 2 });
    await started(ctx);
    await looked(ctx);
    await put(b, 'a.txt', 'a');
    await put(b, 'b c.txt', 'b');
    await put(b, 'd+e.txt', 'd');
    const events = await ctx.waitForEvents(3);
    expect(ctx.accepted.map((batch) => batch.length)).toEqual([2, 1]);
    expect(events.map((e) => e.subject).sort()).toEqual(['a.txt', 'b c.txt', 'd+e.txt']);
    const a = events.find((e) => e.subject === 'a.txt')!;
    const data = a.data as { s3: { bucket: { name: string }; object: { key: string; size: number; eTag: string } } };
    expect(a).toMatchObject({ type: 's3:ObjectCreated:Put', source: `hks://s3/${b}`, datacontenttype: 'application/json' });
    expect(data.s3.bucket.name).toBe(b);
    expect(data.s3.object).toMatchObject({ key: 'a.txt', size: 1 });
    expect(data.s3.object.eTag).toMatch(/^[0-9a-f]{32}$/);
    expect(a.id).toBe(`${b}/a.txt@${data.s3.object.eTag}:s3:ObjectCreated:Put`);
    expect((events.find((e) => e.subject === 'b c.txt')!.data as typeof data).s3.object.key).toBe('b+c.txt');
    await sleep(400);
    expect(ctx.events()).toHaveLength(3);
  });

  it('has looked once start() resolves: an object put right after it is new, also in a bucket already holding several', async () => {
    const b = await bucket();
    // More than one object under the prefix: a listing cut short would need a continuation token (s3rver has none on Node 17+).
    for (const key of ['old/1.txt', 'old/2.txt', 'old/3.txt']) await put(b, key, 'o');
    const ctx = context(b, { pollIntervalMs: 1_000 });
    await started(ctx);
    expect(Object.keys((ctx.stateValues.get(WATERMARK_KEY) as S3Watermark).objects).sort()).toEqual(['old/1.txt', 'old/2.txt', 'old/3.txt']);
    await put(b, 'new.txt', 'n');
    expect((await ctx.waitForEvents(1)).map((e) => e.subject)).toEqual(['new.txt']);
    await sleep(1_200);
    expect(ctx.events()).toHaveLength(1);
  });

  it('delivers an object again when it changed, and one created again after it was deleted', async () => {
    const b = await bucket();
    await put(b, 'x.json', '{"v":1}');
    const ctx = context(b);
    await started(ctx);
    await looked(ctx);
    await put(b, 'x.json', '{"v":2}');
    await ctx.waitForEvents(1);
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'x.json' }));
    await waitUntil(() => Object.keys((ctx.stateValues.get(WATERMARK_KEY) as S3Watermark).objects).length === 0);
    await put(b, 'x.json', '{"v":2}');
    const events = await ctx.waitForEvents(2);
    expect(events.map((e) => e.subject)).toEqual(['x.json', 'x.json']);
    await sleep(400);
    expect(ctx.events()).toHaveLength(2);
  });

  it('does not deliver again after a restart, nor from another replica sharing the state', async () => {
    const b = await bucket();
    const ctx = context(b);
    const first = await started(ctx);
    await looked(ctx);
    await put(b, 'once.txt', '1');
    await ctx.waitForEvents(1);
    await first.stop();
    const replica = context(b, {}, ctx);
    await started(replica);
    await started(ctx);
    await sleep(500);
    expect(ctx.events()).toHaveLength(1);
    expect(replica.events()).toHaveLength(0);
  });

  it('keeps the watermark when deliver rejects, and delivers the same events at the next look', async () => {
    const b = await bucket();
    const ctx = context(b);
    await started(ctx);
    await looked(ctx);
    ctx.rejectNext = 2;
    await put(b, 'retry.txt', 'r');
    await ctx.waitForEvents(1);
    expect(ctx.calls.map((c) => [c.rejected, c.events[0].id])).toEqual([
      [true, ctx.events()[0].id],
      [true, ctx.events()[0].id],
      [false, ctx.events()[0].id],
    ]);
    expect(Object.keys((ctx.stateValues.get(WATERMARK_KEY) as S3Watermark).objects)).toEqual(['retry.txt']);
  });

  it('takes only keys under prefix, ending with suffix', async () => {
    const b = await bucket();
    const ctx = context(b, { prefix: 'images/', suffix: '.png' });
    await started(ctx);
    await looked(ctx);
    await put(b, 'images/cat.png', 'c');
    await put(b, 'images/cat.txt', 't');
    await put(b, 'docs/dog.png', 'd');
    await ctx.waitForEvents(1);
    await sleep(400);
    expect(ctx.events().map((e) => e.subject)).toEqual(['images/cat.png']);
    expect(Object.keys((ctx.stateValues.get(WATERMARK_KEY) as S3Watermark).objects).sort()).toEqual(['images/cat.png', 'images/cat.txt']);
  });

  it('stops looking at stop(): an object created after it is delivered at the next start', async () => {
    const b = await bucket();
    const ctx = context(b);
    const p = await started(ctx);
    await looked(ctx);
    await p.stop();
    await put(b, 'later.txt', 'l');
    await sleep(400);
    expect(ctx.calls).toHaveLength(0);
    await started(ctx);
    expect((await ctx.waitForEvents(1))[0].subject).toBe('later.txt');
  });

  it('finishes a deliver in progress at stop() and saves its watermark', async () => {
    const b = await bucket();
    const ctx = context(b);
    const p = await started(ctx);
    await looked(ctx);
    ctx.deliverDelayMs = 500;
    await put(b, 'slow.txt', 's');
    await waitUntil(() => ctx.inProgress === 1);
    await p.stop();
    expect(ctx.events().map((e) => e.subject)).toEqual(['slow.txt']);
    expect(Object.keys((ctx.stateValues.get(WATERMARK_KEY) as S3Watermark).objects)).toEqual(['slow.txt']);
  });

  it('rejects start() for a bucket that does not exist and for wrong credentials, naming the bucket', async () => {
    const missing = sourceModule.create(context('hkst-no-such-bucket'));
    await expect(missing.start()).rejects.toThrow(`cannot poll S3 bucket "hkst-no-such-bucket" at ${endpoint}: no such bucket`);
    const b = await bucket();
    const wrong = context(b);
    // s3rver checks the access key id (not SigV4 signatures).
    wrong.secrets.s3 = { accessKeyId: 'NOBODY', secretAccessKey: 'wrong' };
    await expect(sourceModule.create(wrong).start()).rejects.toThrow(
      `cannot poll S3 bucket "${b}" at ${endpoint}: access denied (InvalidAccessKeyId; check credentialsSecret)`,
    );
    const incomplete = context(b);
    incomplete.secrets.s3 = { accessKeyId: 'S3RVER' };
    await expect(sourceModule.create(incomplete).start()).rejects.toThrow('s3 trigger credentialsSecret "s3" needs the keys accessKeyId and secretAccessKey');
  });
});
