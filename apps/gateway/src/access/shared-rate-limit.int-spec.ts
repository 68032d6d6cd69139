import { INestApplication } from '@nestjs/common';
import * as http from 'http';
import type { AddressInfo } from 'net';
import IORedis from 'ioredis';
import { redisConnectionOptions } from '@platform/config';
import { isolatedEnv, removeNamespace } from '@platform/testing';
import { startGateway } from '../testing/start-gateway';

jest.setTimeout(60_000);

const KEY = 'rate-key';
const BURST = 6;

/** A real HTTP server standing in for the invoker: 200 to every invocation. */
async function startInvoker(): Promise<{ server: http.Server; url: string; calls: () => number }> {
  let calls = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls: () => calls };
}

async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** One invocation through a gateway with the admin key: its status and Retry-After. */
async function invoke(url: string): Promise<{ status: number; retryAfter?: string; body: string }> {
  const res = await fetch(`${url}/api/v1/functions/invoke/hello`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: '{}',
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after') ?? undefined, body: await res.text() };
}

describe('the rate limit across two gateway replicas sharing Redis (real Redis and RabbitMQ; HTTP invoker)', () => {
  let iso: ReturnType<typeof isolatedEnv>;
  let invoker: Awaited<ReturnType<typeof startInvoker>>;
  const gateways: { app: INestApplication; url: string }[] = [];
  let redis: IORedis;

  beforeAll(async () => {
    invoker = await startInvoker();
    iso = isolatedEnv({ INVOKER_URL: invoker.url, HKS_API_KEYS: KEY, GATEWAY_RATE_LIMIT_RPS: '1', GATEWAY_RATE_LIMIT_BURST: String(BURST) });
    gateways.push(await startGateway(iso.env), await startGateway(iso.env));
    redis = new IORedis(redisConnectionOptions(iso.env.REDIS_URL));
  });

  afterAll(async () => {
    for (const g of gateways) await g.app.close();
    await new Promise((r) => invoker?.server.close(r));
    if (redis) {
      const keys = await redis.keys(`${iso.env.HKS_NAMESPACE}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    }
    if (iso) await removeNamespace(iso.env.AMQP_URL, iso.env.HKS_NAMESPACE, []);
    iso?.cleanup();
  });

  it('lets exactly the burst through across both replicas, then answers 429 with Retry-After on each', async () => {
    const started = Date.now();
    // Twice the burst at once, alternating between the replicas: counted per replica, every one would pass.
    const answers = await Promise.all(Array.from({ length: 2 * BURST }, (_, i) => invoke(gateways[i % 2].url).then((a) => ({ ...a, gateway: i % 2 }))));
    const elapsedMs = Date.now() - started;
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    expect(ok.length + refused.length).toBe(2 * BURST);
    // The bucket refills at 1 a second: a slow machine may earn a token while the requests are under way.
    expect(ok.length).toBeGreaterThanOrEqual(BURST);
    expect(ok.length).toBeLessThanOrEqual(BURST + Math.floor(elapsedMs / 1000));
    expect(invoker.calls()).toBe(ok.length);
    // Both replicas refuse once the shared bucket is empty, with a wait a client can act on.
    expect(new Set(refused.map((a) => a.gateway))).toEqual(new Set([0, 1]));
    for (const r of refused) {
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(r.body)).toMatchObject({
        statusCode: 429,
        error: 'Too Many Requests',
        message: expect.stringContaining('Rate limit of 1 requests per second'),
      });
    }

    // After the wait it names, the next request passes again (on either replica), and the one after it does not.
    const wait = Math.max(...refused.map((r) => Number(r.retryAfter)));
    await new Promise((r) => setTimeout(r, wait * 1000 + 100));
    expect((await invoke(gateways[1].url)).status).toBe(200);
    expect((await invoke(gateways[0].url)).status).toBe(429);
  });

  it('keeps limiting per replica, and serving, while Redis cannot be reached', async () => {
    const down = await startGateway({ ...iso.env, REDIS_URL: `redis://127.0.0.1:${await closedPort()}`, GATEWAY_RATE_LIMIT_BURST: '2' });
    gateways.push(down);
    const answers: number[] = [];
    for (let i = 0; i < 4; i++) answers.push((await invoke(down.url)).status);
    // Two in the local bucket, then refused; nothing failed because Redis is away. (Four requests take well under the
    // second a new token needs on any machine this runs on; if not, a third 200 is the refill, not a failure.)
    expect(answers.slice(0, 2)).toEqual([200, 200]);
    expect(answers.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
    expect(answers.every((s) => s === 200 || s === 429)).toBe(true);
  });
});
