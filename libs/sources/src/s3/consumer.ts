import { ListObjectsV2Command, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { batchSettings, reason, StopSignal } from '../batching';
import type { SourceConsumer, SourceContext, SourceEvent, SourceModule } from '../types';
import { S3Record, s3Events } from './notification';

const DEFAULT_POLL_INTERVAL_MS = 30_000;
/** The key of the watermark in the trigger's state. */
export const WATERMARK_KEY = 's3-poll-watermark';

/** What the poller has seen: each object's ETag by key (the objects under `prefix` at the last look). */
export interface S3Watermark {
  bucket: string;
  prefix: string;
  objects: Record<string, string>;
}

interface Listed {
  key: string;
  eTag: string;
  size: number;
  lastModified: Date;
}

/** Object keys in S3 event records are URL-encoded, spaces as "+" (s3ObjectKey decodes them). */
function encodeKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

/** An object seen new or changed, as the record of an S3 event notification would describe it. */
export function createdRecord(bucket: string, region: string, o: Listed): S3Record {
  const eTag = o.eTag.replace(/^"|"$/g, '');
  const s3 = {
    s3SchemaVersion: '1.0',
    configurationId: 'hks-poll',
    bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` },
    object: { key: encodeKey(o.key), size: o.size, eTag },
  };
  return {
    eventVersion: '2.1',
    eventSource: 'hks:s3-poll',
    awsRegion: region,
    eventTime: o.lastModified.toISOString(),
    eventName: 'ObjectCreated:Put',
    s3,
  };
}

async function clientConfig(ctx: SourceContext): Promise<S3ClientConfig> {
  const t = ctx.trigger;
  const config: S3ClientConfig = {
    endpoint: t.endpoint as string,
    region: typeof t.region === 'string' ? t.region : 'us-east-1',
    forcePathStyle: t.forcePathStyle !== false,
  };
  if (typeof t.credentialsSecret === 'string') {
    const secret = await ctx.secret(t.credentialsSecret);
    if (!secret.accessKeyId || !secret.secretAccessKey) {
      throw new Error(`s3 trigger credentialsSecret "${t.credentialsSecret}" needs the keys accessKeyId and secretAccessKey`);
    }
    config.credentials = { accessKeyId: secret.accessKeyId, secretAccessKey: secret.secretAccessKey, sessionToken: secret.sessionToken };
  }
  return config;
}

/**
 * Polls a bucket (mode "poll"): every pollIntervalMs it lists the objects under `prefix` (ListObjectsV2, any S3
 * API) and delivers those new or changed since the last look as s3:ObjectCreated:Put events, batchSize at a time.
 * The watermark (each object's ETag) is in the trigger's state, shared by the replicas, and is saved only once a
 * batch is accepted: a restart does not deliver an object again, and a rejected batch is tried at the next look.
 * Two replicas looking at once deliver the same events, with the same ids ({bucket}/{key}@{eTag}): one invocation.
 */
export class S3Poller implements SourceConsumer {
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly stopSignal = new StopSignal();
  private client?: S3Client;
  private loop?: Promise<void>;

  constructor(private readonly ctx: SourceContext) {
    this.bucket = String(ctx.trigger.bucket);
    this.prefix = typeof ctx.trigger.prefix === 'string' ? ctx.trigger.prefix : '';
  }

  private warn(message: string): void {
    this.ctx.logger.warn(`s3 trigger ${this.bucket}/${this.prefix} -> ${this.ctx.label}: ${message}`);
  }

  async start(): Promise<void> {
    const endpoint = this.ctx.trigger.endpoint;
    const what = `cannot poll S3 bucket "${this.bucket}" at ${String(endpoint)}`;
    if (typeof endpoint !== 'string') throw new Error('s3 trigger with mode "poll" needs an "endpoint" (the S3 API URL)');
    const client = new S3Client({ ...(await clientConfig(this.ctx)), maxAttempts: 2 });
    this.client = client;
    let listed: Listed[];
    try {
      // The first listing, not HeadBucket: it is what the poller needs to be allowed (and s3rver checks signatures
      // on it). A whole one, not MaxKeys 1: s3rver cannot make a continuation token on Node 17+ (OpenSSL 3).
      listed = await this.list();
    } catch (err) {
      this.client = undefined;
      client.destroy();
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      const status = e.$metadata?.httpStatusCode;
      const why =
        status === 404
          ? 'no such bucket'
          : status === 403
            ? `access denied (${e.name ?? '403'}; check credentialsSecret)`
            : `${e.name ?? 'error'}: ${reason(err)}`;
      throw new Error(`${what}: ${why}`);
    }
    // The first look records what is there before the start resolves (before the deploy answers): an object put
    // once the function is deployed is new, never taken for one that was there.
    let first: boolean;
    try {
      first = !(await this.watermark());
      if (first) await this.save(Object.fromEntries(listed.map((o) => [o.key, o.eTag])));
    } catch (err) {
      this.client = undefined;
      client.destroy();
      throw new Error(`${what}: its watermark could not be read or saved: ${reason(err)}`);
    }
    this.loop = this.run(!first);
  }

  private async run(lookNow: boolean): Promise<void> {
    const interval = typeof this.ctx.trigger.pollIntervalMs === 'number' ? this.ctx.trigger.pollIntervalMs : DEFAULT_POLL_INTERVAL_MS;
    if (!lookNow) await this.stopSignal.sleep(interval);
    while (!this.stopSignal.stopped) {
      try {
        await this.poll();
      } catch (err) {
        this.warn(`${reason(err)}; trying again at the next look`);
      }
      await this.stopSignal.sleep(interval);
    }
  }

  /** What the last look saw (undefined before the first, or when the trigger's bucket or prefix changed). */
  private async watermark(): Promise<Record<string, string> | undefined> {
    const stored = await this.ctx.state.get<S3Watermark>(WATERMARK_KEY);
    return stored && stored.bucket === this.bucket && stored.prefix === this.prefix ? stored.objects : undefined;
  }

  private async list(): Promise<Listed[]> {
    const out: Listed[] = [];
    let token: string | undefined;
    do {
      const page = await (this.client as S3Client).send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix || undefined, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        out.push({ key: o.Key, eTag: o.ETag ?? '', size: o.Size ?? 0, lastModified: o.LastModified ?? new Date() });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token && !this.stopSignal.stopped);
    return out;
  }

  /** One look at the bucket. */
  async poll(): Promise<void> {
    const listed = await this.list();
    if (this.stopSignal.stopped) return;
    const seen = await this.watermark();
    const now: Record<string, string> = {};
    for (const o of listed) now[o.key] = o.eTag;
    if (!seen) {
      // The first look only records what is there.
      await this.save(now);
      return;
    }
    const changed = listed
      .filter((o) => seen[o.key] !== o.eTag)
      .sort((a, b) => a.lastModified.getTime() - b.lastModified.getTime() || a.key.localeCompare(b.key));
    // Keys gone since the last look leave the watermark (an object created again under that key is new).
    const objects: Record<string, string> = {};
    for (const [k, v] of Object.entries(seen)) if (k in now) objects[k] = v;
    const { size } = batchSettings(this.ctx.trigger);
    const region = typeof this.ctx.trigger.region === 'string' ? this.ctx.trigger.region : 'us-east-1';
    const filter = { events: this.ctx.trigger.events as string[] | undefined, prefix: this.prefix, suffix: this.ctx.trigger.suffix as string | undefined };
    let batch: SourceEvent[] = [];
    let covered: Listed[] = [];
    const flush = async () => {
      if (batch.length) await this.ctx.deliver(batch);
      for (const o of covered) objects[o.key] = o.eTag;
      await this.save(objects);
      batch = [];
      covered = [];
    };
    for (const o of changed) {
      if (this.stopSignal.stopped) return;
      batch.push(...s3Events([createdRecord(this.bucket, region, o)], filter));
      covered.push(o);
      if (batch.length >= size) await flush();
    }
    if (covered.length || Object.keys(objects).length !== Object.keys(seen).length) await flush();
  }

  private async save(objects: Record<string, string>): Promise<void> {
    const watermark: S3Watermark = { bucket: this.bucket, prefix: this.prefix, objects };
    await this.ctx.state.set(WATERMARK_KEY, watermark);
  }

  /** Stops polling: a batch being delivered finishes (and its watermark is saved); the rest waits for the next start. */
  async stop(): Promise<void> {
    this.stopSignal.stop();
    await this.loop;
    this.client?.destroy();
  }
}

/** mode "webhook": the gateway receives the notifications (POST /api/v1/sources/s3/{label}); nothing runs here. */
class WebhookSource implements SourceConsumer {
  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * No publish: an S3 trigger has no topics to publish results to (resultTopic/errorTopic of an s3 trigger are not
 * published), and writing result objects into the polled bucket would feed the poller its own output.
 */
export const sourceModule: SourceModule = {
  create: (ctx) => (ctx.trigger.mode === 'poll' ? new S3Poller(ctx) : new WebhookSource()),
};
