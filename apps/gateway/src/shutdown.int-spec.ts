import * as http from 'http';
import type { AddressInfo } from 'net';
import { isolatedEnv, removeNamespace, ServiceProcess, waitFor } from '@platform/testing';

jest.setTimeout(60_000);

const KEY = 'shutdown-key';

/** A stand-in invoker that holds each invocation until the test releases it. */
async function startHoldingInvoker() {
  const held: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => held.push(res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const release = () => {
    for (const res of held.splice(0)) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"finished":true}');
    }
  };
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, held: () => held.length, release };
}

/** Whether a new connection to `url` is refused (the listener is closed). */
function refusesConnections(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(`${url}/healthz`, { agent: false }, (res) => {
      res.resume();
      resolve(false);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

describe('the gateway stopped with SIGTERM (a built gateway process: `npm run build` first; real RabbitMQ)', () => {
  let iso: ReturnType<typeof isolatedEnv>;
  let invoker: Awaited<ReturnType<typeof startHoldingInvoker>>;

  beforeAll(async () => {
    invoker = await startHoldingInvoker();
    iso = isolatedEnv({ INVOKER_URL: invoker.url, HKS_API_KEYS: KEY });
  });

  afterAll(async () => {
    invoker?.release();
    await new Promise((r) => invoker?.server.close(r));
    if (iso) await removeNamespace(iso.env.AMQP_URL, iso.env.HKS_NAMESPACE, []);
    iso?.cleanup();
  });

  it('finishes the invocation in flight, takes no new connection meanwhile, and exits by itself within its grace period', async () => {
    const gateway = await ServiceProcess.start('gateway', 'GATEWAY_PORT', iso.env);
    const inFlight = fetch(`${gateway.url}/api/v1/functions/invoke/slow`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: '{"data":1}',
    });
    await waitFor(() => invoker.held() === 1, { what: 'the invocation to reach the invoker' });

    const stopped = gateway.stop(30_000);
    await waitFor(() => refusesConnections(gateway.url), { what: 'the gateway to stop taking connections', timeoutMs: 20_000 });
    expect(invoker.held()).toBe(1);

    invoker.release();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ finished: true });
    // Exited by itself once drained: not SIGKILLed by stop's 30 s (Kubernetes' grace period), not by the SHUTDOWN_GRACE_MS
    // watchdog (exit 1). Nest raises the SIGTERM again once its shutdown hooks are done, so the process ends by it (143).
    expect([
      { code: 0, signal: null },
      { code: null, signal: 'SIGTERM' },
    ]).toContainEqual(await stopped);
  });
});
