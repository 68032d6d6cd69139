import { existsSync, readdirSync } from 'fs';
import * as path from 'path';
import type { INestApplication } from '@nestjs/common';
import { isolatedEnv, waitFor } from '@platform/testing';
import { writeBundle, runtimeSpec, TestFunction } from './testing/bundles';
import { EventTap, PlatformDirectory, serveDirectory } from './testing/invoker-harness';
import { InvokerProcess } from './testing/invoker-process';

/**
 * The invoker as a real process (dist/: `npm run build` first), killed the way an OOM killer or a
 * node failure does, and stopped the way Kubernetes does.
 */
jest.setTimeout(120_000);

const ECHO = { 'handler.js': 'module.exports.handle = (data) => ({ echo: data });' };
const SLEEPER = {
  'handler.js': 'module.exports.handle = (data) => new Promise((resolve) => setTimeout(() => resolve({ slept: data.ms }), Number(data.ms)));',
};

describe('invoker: durable invocation events (real process, real RabbitMQ)', () => {
  let iso: ReturnType<typeof isolatedEnv>;
  let stubs: INestApplication;
  let tap: EventTap;
  const directory = new PlatformDirectory();
  const bundles = new Map<string, string>();

  beforeAll(async () => {
    iso = isolatedEnv({ RPC_TIMEOUT_MS: '5000', INVOKER_PREWARM: '1' });
    stubs = await serveDirectory(directory, iso.env);
    tap = await EventTap.open(iso.env.AMQP_URL, iso.env.HKS_NAMESPACE);
    bundles.set('echo', await writeBundle(iso.dataDir, 'node', 'handler.handle', ECHO));
    bundles.set('sleeper', await writeBundle(iso.dataDir, 'node', 'handler.handle', SLEEPER));
  });

  afterAll(async () => {
    await tap?.close();
    await stubs?.close();
    iso?.cleanup();
  });

  const fns = new Map<string, TestFunction>();
  async function deploy(inv: InvokerProcess, label: string, config = {}): Promise<void> {
    const fn = fns.get(label) ?? runtimeSpec({ label, family: 'node', entrypoint: 'handler.handle', bundleDigest: bundles.get(label)!, config });
    fns.set(label, fn);
    const res = await fetch(`${inv.url}/deployments/${fn.spec.functionId}`, {
      method: 'PUT',
      headers: { ...inv.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ deploymentId: fn.deploymentId, spec: fn.spec, env: {} }),
    });
    if (res.status !== 200) throw new Error(`deploying ${label} answered ${res.status}: ${await res.text()}`);
  }

  function eventsOf(id: string) {
    return tap.events.filter((e) => e.invocationId === id);
  }

  it('keeps the one event of every answered invocation, its result, through kill -9 under load', async () => {
    const answered: string[] = [];
    // A threshold no call here reaches, even on a loaded machine: each invocation records its result only.
    const env = { ...iso.env, INVOKER_PENDING_EVENT_AFTER_MS: '60000' };
    let inv = await InvokerProcess.start(env);
    for (let round = 0; round < 3; round++) {
      await deploy(inv, 'echo');
      const target = inv;
      const until = Date.now() + 1_500;
      // A steady, bounded load: 4 callers, each one request at a time, for at most 1.5 s or 400 requests.
      const callers = Array.from({ length: 4 }, async (_, c) => {
        for (let i = 0; i < 100 && Date.now() < until; i++) {
          try {
            const res = await fetch(`${target.url}/invoke/echo`, {
              method: 'POST',
              headers: { ...target.auth, 'content-type': 'application/json' },
              body: JSON.stringify({ data: { c, i, round } }),
            });
            await res.arrayBuffer();
            if (res.status === 200) answered.push(res.headers.get('x-invocation-id')!);
          } catch {
            return; // killed: the connection broke, this request was never answered
          }
        }
      });
      await new Promise((r) => setTimeout(r, 400 + round * 200));
      const exit = await inv.kill('SIGKILL');
      expect(exit.signal).toBe('SIGKILL');
      await Promise.all(callers);
      inv = await InvokerProcess.start(env);
    }
    expect(answered.length).toBeGreaterThan(50);

    const missing = () => answered.filter((id) => !eventsOf(id).some((e) => e.status === 'SUCCESS'));
    await waitFor(() => missing().length === 0, {
      timeoutMs: 30_000,
      what: `the result event of every answered invocation (${missing().length} of ${answered.length} lack it)`,
    });
    for (const id of answered) {
      // One event (a replay may deliver it twice, with the same id: the event store stores it once).
      expect(new Set(eventsOf(id).map((e) => e.id)).size).toBe(1);
      const result = eventsOf(id).find((e) => e.status === 'SUCCESS')!;
      expect(result).toMatchObject({ name: 'invocation.succeeded', payload: { c: expect.any(Number) }, response: { echo: expect.any(Object) } });
    }
    // What the broker confirmed is not replayed: at most the last moments before each kill come twice.
    const duplicates = answered.reduce((n, id) => n + eventsOf(id).length - 1, 0);
    expect(duplicates).toBeLessThan(answered.length);
    // Once replayed and confirmed, the journal holds nothing from the killed processes.
    const walDir = path.join(iso.dataDir, 'wal');
    await waitFor(() => readdirSync(walDir).every((d) => readdirSync(path.join(walDir, d)).length <= 1), {
      timeoutMs: 10_000,
      what: 'the replayed journal segments to be deleted',
    });
    await inv.kill('SIGTERM');
  });

  it('drains on SIGTERM within its grace period: new calls refused, running ones finished or cut with 503, every event on the broker', async () => {
    const inv = await InvokerProcess.start({ ...iso.env, INVOKER_SHUTDOWN_GRACE_MS: '6000' });
    await deploy(inv, 'sleeper', { resources: { timeoutMs: 60_000 }, scaling: { concurrency: 4 } });
    const call = async (ms: number) => {
      const res = await fetch(`${inv.url}/invoke/sleeper`, {
        method: 'POST',
        headers: { ...inv.auth, 'content-type': 'application/json' },
        body: JSON.stringify({ data: { ms } }),
      });
      return {
        status: res.status,
        id: res.headers.get('x-invocation-id')!,
        reason: res.headers.get('x-hks-failure-reason'),
        json: (await res.json()) as { message?: string; slept?: number },
      };
    };
    const short = call(1_000);
    const long = call(20_000);
    await new Promise((r) => setTimeout(r, 300));
    const signalled = Date.now();
    void inv.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));

    // A new invocation is refused: 503 naming the shutdown, or no connection at all once the listener closed.
    const late = await fetch(`${inv.url}/invoke/sleeper`, { method: 'POST', headers: inv.auth, body: JSON.stringify({ data: { ms: 1 } }) }).then(
      async (res) => ({ status: res.status, text: await res.text() }),
      () => ({ status: 0, text: 'connection refused' }),
    );
    if (late.status !== 0) expect(late).toMatchObject({ status: 503, text: expect.stringContaining('shutting down') });

    expect(await short).toMatchObject({ status: 200, json: { slept: 1000 } });
    const cut = await long;
    expect(cut.status).toBe(503);
    expect(cut.json.message).toContain('the invoker is shutting down');
    // The deployer retries such an attempt as the platform's doing, not the function's.
    expect(cut.reason).toBe('shutdown');
    await inv.exited;
    const tookMs = Date.now() - signalled;
    expect(tookMs).toBeLessThan(6_000 + 1_500);

    // Both ran past the PENDING threshold (500 ms by default): pending, then the result.
    for (const r of [await short, cut]) {
      await waitFor(() => eventsOf(r.id).length >= 2, { timeoutMs: 10_000, what: `the events of invocation ${r.id}` });
      expect(eventsOf(r.id).map((e) => e.status)).toEqual(['PENDING', r === cut ? 'FAILURE' : 'SUCCESS']);
    }
    expect(eventsOf(cut.id).find((e) => e.status !== 'PENDING')).toMatchObject({
      status: 'FAILURE',
      metadata: { reason: 'shutdown' },
      error: expect.stringContaining('shutting down'),
    });
    // Everything went to the broker: nothing left in the spool or the journal.
    const spool = path.join(iso.dataDir, 'spool');
    expect(existsSync(spool) ? readdirSync(spool) : []).toEqual([]);
    const walDir = path.join(iso.dataDir, 'wal');
    expect(readdirSync(walDir).flatMap((d) => readdirSync(path.join(walDir, d)))).toEqual([]);
  });
});
