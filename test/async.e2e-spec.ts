import { execFile } from 'child_process';
import { createPublicKey, KeyObject } from 'crypto';
import { existsSync, mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import type {
  AcceptedInvocation,
  CallbackKeyView,
  EventPage,
  InvocationCallbackBody,
  InvocationPage,
  InvocationView,
  RedriveManyResult,
} from '@platform/contracts';
import { freePort } from '@platform/testing';
import { api, RunningPlatform, startPlatform } from './support/platform';
import { CallbackReceiver, isFinal, keyFromRaw, platformClient, signatureVerifies, sleep, until } from './support/invocations';

const ASYNC_BODY_LIMIT = 64 * 1024;
const BIN = path.resolve(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');

/**
 * Asynchronous invocations through the public API only (issue 11): the three ways of asking for one on both invoke
 * routes, retries with backoff, dead letters and redrive, idempotency keys, signed callbacks, replay, cancel, the
 * queue bound, and the CLI. Every answer also passes the conformance proxy's check against the OpenAPI document.
 */
describe('asynchronous invocations end to end', () => {
  let p: RunningPlatform;
  let receiver: CallbackReceiver;
  const { call, deploy, finalView, viewWhen } = platformClient(() => p);
  const fn: Record<'echo' | 'flaky' | 'thrower' | 'patient' | 'slow' | 'answers', string> = {
    echo: '',
    flaky: '',
    thrower: '',
    patient: '',
    slow: '',
    answers: '',
  };

  /** POST to an invoke route asking for an asynchronous run with `headers`. */
  const invokeAsync = (path: string, body: unknown, headers: Record<string, string> = { prefer: 'respond-async' }) =>
    call<AcceptedInvocation & { message?: string }>('POST', path, body, headers);

  /** The invocation events of `id` the event store holds (its attempts' results: SUCCESS / FAILURE). */
  const eventsOf = async (id: string, status?: 'SUCCESS' | 'FAILURE') =>
    (await call<EventPage>('GET', `/api/v3/events?invocationId=${id}${status ? `&status=${status}` : ''}&limit=500`)).body.items;

  /** Accepted with 202, pointing at its status; resolves with the invocation id. */
  function expectAccepted(r: Awaited<ReturnType<typeof invokeAsync>>, functionId: string): string {
    expect({ status: r.status, body: r.body }).toMatchObject({ status: 202, body: { functionId, status: 'queued', duplicate: false } });
    const id = r.body.invocationId;
    expect(r.body.statusUrl).toBe(`/api/v1/invocations/${id}`);
    expect(r.headers.get('location')).toBe(`/api/v1/invocations/${id}`);
    expect(r.headers.get('x-invocation-id')).toBe(id);
    return id;
  }

  beforeAll(async () => {
    receiver = await CallbackReceiver.start();
    // No attempt here is meant to reach the PENDING threshold: one event per attempt.
    // A small async body limit, to see its 413 without sending megabytes.
    // Callbacks only to this machine, where the test's receiver is.
    p = await startPlatform({
      INVOKER_PENDING_EVENT_AFTER_MS: '60000',
      GATEWAY_ASYNC_MAX_BODY_BYTES: String(ASYNC_BODY_LIMIT),
      DEPLOYER_CALLBACK_ALLOWED_HOSTS: '127.0.0.1',
    });
    const [echo, flaky, thrower, patient, slow, answers] = await Promise.all([
      // Both styles: the data of /api/v1/functions/invoke/{id}, the request object of /fn/{label}.
      deploy({
        label: 'async-echo',
        runtime: 'node',
        handler:
          'module.exports.handle = async (input) => input && typeof input.method === "string" && "isBase64Encoded" in input\n' +
          '  ? { style: "http", method: input.method, path: input.path, query: input.query, headers: input.headers, body: input.body, b64: input.isBase64Encoded }\n' +
          '  : { style: "data", data: input };\n',
      }),
      // One instance, so one module and one counter: throws on its first two calls, then answers.
      deploy({
        label: 'async-flaky',
        runtime: 'node',
        handler:
          'let calls = 0;\nmodule.exports.handle = async () => {\n  calls++;\n  console.log(`call ${calls}`);\n  if (calls <= 2) throw new Error(`flaky call ${calls}`);\n  return { calls };\n};\n',
        config: { scaling: { maxInstances: 1 }, retry: { attempts: 5, initialDelayMs: 100 } },
      }),
      deploy({
        label: 'async-thrower',
        runtime: 'node',
        handler: 'module.exports.handle = async () => { throw new Error("no luck today"); };\n',
        config: { retry: { attempts: 3, initialDelayMs: 50, maxDelayMs: 200 } },
      }),
      // Fails once, then waits an hour for its next attempt: a queued invocation to cancel.
      deploy({
        label: 'async-patient',
        runtime: 'node',
        handler: 'module.exports.handle = async () => { throw new Error("not yet"); };\n',
        config: { retry: { attempts: 3, initialDelayMs: 3_600_000, maxDelayMs: 3_600_000, jitter: 'none' } },
      }),
      // One at a time, 2 s each, at most 2 accepted and not ended.
      deploy({
        label: 'async-slow',
        runtime: 'node',
        handler: 'module.exports.handle = async (d) => { await new Promise((r) => setTimeout(r, 2000)); return { slept: d }; };\n',
        config: { scaling: { maxInstances: 1, concurrency: 1, asyncQueueSize: 2 } },
      }),
      // HTTP style: answers the status its path asks for (/status/404), or runs past its 500 ms timeout (/sleep).
      deploy({
        label: 'async-answers',
        runtime: 'node',
        handler:
          'module.exports.handle = async (req) => {\n' +
          '  const m = /\\/status\\/(\\d+)$/.exec(req.path);\n' +
          '  if (m) return { statusCode: Number(m[1]), headers: { "content-type": "text/plain" }, body: `asked for ${m[1]}` };\n' +
          '  if (req.path.endsWith("/sleep")) await new Promise((r) => setTimeout(r, 3000));\n' +
          '  return "done";\n' +
          '};\n',
        // A timeout is not among the failures retried here.
        config: { resources: { timeoutMs: 500 }, retry: { attempts: 2, initialDelayMs: 50, on: ['error', '5xx'] } },
      }),
    ]);
    Object.assign(fn, { echo, flaky, thrower, patient, slow, answers });
  }, 300_000);

  afterAll(async () => {
    // stop() throws when answers differed from the OpenAPI document: clean up all the same.
    try {
      await p?.stop();
    } finally {
      await receiver?.close();
    }
  }, 60_000);

  const CONVENTIONS = [
    { convention: 'Prefer: respond-async', headers: (): Record<string, string> => ({ prefer: 'respond-async' }), applied: 'respond-async' },
    { convention: 'X-Invocation-Type: Event', headers: (): Record<string, string> => ({ 'x-invocation-type': 'Event' }), applied: null },
    { convention: 'X-Callback-Url', headers: (): Record<string, string> => ({ 'x-callback-url': receiver.url('/conventions') }), applied: null },
  ];
  const ROUTES = [
    {
      route: '/api/v1/functions/invoke/{id}',
      path: () => `/api/v1/functions/invoke/${fn.echo}`,
      body: (n: number) => ({ data: { n } }),
      check: (value: Record<string, unknown>, n: number) => expect(value).toEqual({ style: 'data', data: { n } }),
    },
    {
      route: '/fn/{label}',
      path: () => '/fn/async-echo/sub/path?q=1',
      body: (n: number) => ({ n }),
      check: (value: { style: string; method: string; path: string; query: unknown; body: string; headers: Record<string, string> }, n: number) => {
        expect(value).toMatchObject({ style: 'http', method: 'POST', query: { q: '1' } });
        expect(value.path).toMatch(/\/sub\/path$/);
        expect(JSON.parse(value.body)).toEqual({ n });
        // What asked for the asynchronous run, the credentials and the platform's own headers never reach the function.
        const seen = Object.keys(value.headers);
        expect(seen).toContain('x-custom');
        for (const h of ['authorization', 'prefer', 'x-invocation-type', 'x-callback-url', 'idempotency-key']) expect(seen).not.toContain(h);
        expect(seen.filter((h) => h.startsWith('x-hks-'))).toEqual([]);
      },
    },
  ];
  const CASES = ROUTES.flatMap((r) => CONVENTIONS.map((c) => ({ ...r, ...c })));

  it.each(CASES.map((c, i) => ({ ...c, n: i + 1 })))(
    'accepts $convention on $route with 202 and a Location, and the invocation ends succeeded with the result',
    async ({ path, body, check, headers, applied, n }) => {
      const r = await invokeAsync(path(), body(n), { ...headers(), 'x-custom': 'yes' });
      const id = expectAccepted(r, fn.echo);
      expect(r.headers.get('preference-applied')).toBe(applied);

      const view = await finalView(id);
      expect(view).toMatchObject({ id, functionId: fn.echo, label: 'async-echo', async: true, status: 'succeeded', maxAttempts: 3, error: null });
      expect(view.attempts.map((a) => a.outcome)).toEqual(['succeeded']);
      expect(view.result).toMatchObject({ statusCode: 200, isBase64Encoded: false });
      check(JSON.parse(view.result!.body), n);
      expect(view.finishedAt).toBeTruthy();
      // The attempt's result event carries the invocation's own id.
      await until(async () => ((await eventsOf(id, 'SUCCESS')).length === 1 ? true : undefined), `the SUCCESS event of ${id}`);
    },
  );

  it('keeps x-hks-* headers of a public request away from the invoker (a synchronous call gets an id of its own)', async () => {
    const forged = '11111111-2222-4333-8444-555555555555';
    const r = await call('POST', `/api/v1/functions/invoke/${fn.echo}`, { data: 1 }, { 'x-hks-invocation-id': forged, 'x-hks-attempt': '7' });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-invocation-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.headers.get('x-invocation-id')).not.toBe(forged);
  });

  it('retries a function that fails twice and succeeds on attempt 3, listing the 3 attempts', async () => {
    const id = expectAccepted(await invokeAsync(`/api/v1/functions/invoke/${fn.flaky}`, { data: {} }), fn.flaky);
    const view = await finalView(id);
    expect(view).toMatchObject({ status: 'succeeded', maxAttempts: 5 });
    expect(view.attempts.map((a) => [a.number, a.outcome])).toEqual([
      [1, 'error'],
      [2, 'error'],
      [3, 'succeeded'],
    ]);
    expect(view.attempts[0].error).toContain('flaky call 1');
    expect(view.attempts[1].error).toContain('flaky call 2');
    expect(JSON.parse(view.result!.body)).toEqual({ calls: 3 });
    // Each attempt left its result event under the same invocation id, numbered in its metadata.
    const events = await until(async () => {
      const e = await eventsOf(id);
      return e.length === 3 ? e : undefined;
    }, `3 events of ${id}`);
    expect(events.map((e) => [e.metadata?.attempt, e.status]).sort()).toEqual([
      [1, 'FAILURE'],
      [2, 'FAILURE'],
      [3, 'SUCCESS'],
    ]);
    // And the view shows each attempt's logs, from those events.
    const withLogs = await viewWhen(id, (v) => v.attempts.every((a) => a.logs !== null), 'the logs of its attempts');
    expect(withLogs.attempts.map((a) => a.logs)).toEqual([
      expect.stringContaining('call 1'),
      expect.stringContaining('call 2'),
      expect.stringContaining('call 3'),
    ]);
  });

  it('dead-letters a function that always throws after its attempts, lists it, and redrives it (one, and in bulk)', async () => {
    const id = expectAccepted(await invokeAsync(`/api/v1/functions/invoke/${fn.thrower}`, { data: {} }), fn.thrower);
    const dead = await finalView(id);
    expect(dead).toMatchObject({ status: 'dead', maxAttempts: 3, result: { statusCode: 500 } });
    expect(dead.attempts.map((a) => a.outcome)).toEqual(['error', 'error', 'error']);
    expect(dead.error).toContain('no luck today');

    const listed = await call<InvocationPage>('GET', `/api/v1/invocations?status=dead&functionId=${fn.thrower}`);
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((i) => [i.id, i.status])).toEqual([[id, 'dead']]);
    const allDead = await call<InvocationPage>('GET', '/api/v1/invocations?status=dead');
    expect(allDead.body.items.map((i) => i.id)).toContain(id);
    expect((await call<InvocationPage>('GET', `/api/v1/invocations?status=succeeded&functionId=${fn.thrower}`)).body.items).toEqual([]);

    // Redrive one: a fresh set of attempts; the earlier ones stay listed, and the function ran again.
    const redriven = await call<InvocationView>('POST', `/api/v1/invocations/${id}/redrive`);
    expect(redriven.status).toBe(200);
    expect(redriven.body).toMatchObject({ id, status: expect.stringMatching(/^(queued|running)$/) });
    const deadAgain = await viewWhen(id, (v) => v.status === 'dead' && v.attempts.length === 6, 'dead again after 6 attempts');
    expect(deadAgain.attempts.map((a) => a.outcome)).toEqual(Array(6).fill('error'));
    await until(async () => ((await eventsOf(id, 'FAILURE')).length === 6 ? true : undefined), `6 FAILURE events of ${id}`);

    // A running or succeeded invocation is not a dead letter.
    const ok = expectAccepted(await invokeAsync(`/api/v1/functions/invoke/${fn.echo}`, { data: 'fine' }), fn.echo);
    await finalView(ok);
    const notDead = await call('POST', `/api/v1/invocations/${ok}/redrive`);
    expect(notDead.status).toBe(409);
    expect(notDead.body.message).toContain('succeeded');

    // Redrive in bulk: every dead letter of the function.
    const more = [
      expectAccepted(await invokeAsync(`/api/v1/functions/invoke/${fn.thrower}`, { data: 2 }), fn.thrower),
      expectAccepted(await invokeAsync(`/api/v1/functions/invoke/${fn.thrower}`, { data: 3 }), fn.thrower),
    ];
    for (const m of more) expect((await finalView(m)).status).toBe('dead');
    const bulk = await call<RedriveManyResult>('POST', '/api/v1/invocations/redrive', { functionId: fn.thrower });
    expect(bulk.status).toBe(200);
    expect(bulk.body.redriven).toBe(3);
    expect([...bulk.body.ids].sort()).toEqual([id, ...more].sort());
    for (const m of more) await viewWhen(m, (v) => v.status === 'dead' && v.attempts.length === 6, 'dead again after 6 attempts');
    // By id: only the one named.
    const byId = await call<RedriveManyResult>('POST', '/api/v1/invocations/redrive', { ids: [more[0]] });
    expect(byId.body).toEqual({ redriven: 1, ids: [more[0]] });
    await viewWhen(more[0], (v) => v.status === 'dead' && v.attempts.length === 9, 'dead again after 9 attempts');

    const badIds = await call('POST', '/api/v1/invocations/redrive', { ids: ['not-a-uuid'] });
    expect(badIds.status).toBe(400);
    expect(badIds.body.message).toContain('ids');
  }, 90_000);

  it('makes one invocation of requests with the same idempotency key, and refuses the key with another body', async () => {
    const path = `/api/v1/functions/invoke/${fn.echo}`;
    const key = `order-${Date.now()}`;
    const first = await invokeAsync(path, { data: { order: 1 } }, { prefer: 'respond-async', 'idempotency-key': key });
    const id = expectAccepted(first, fn.echo);
    const again = await invokeAsync(path, { data: { order: 1 } }, { prefer: 'respond-async', 'idempotency-key': key });
    expect({ status: again.status, body: again.body }).toMatchObject({ status: 202, body: { invocationId: id, duplicate: true } });
    expect(again.headers.get('location')).toBe(`/api/v1/invocations/${id}`);
    // The other spelling of the header names the same key.
    const alt = await invokeAsync(path, { data: { order: 1 } }, { 'x-invocation-type': 'Event', 'x-idempotency-key': key });
    expect(alt.body).toMatchObject({ invocationId: id, duplicate: true });

    const other = await invokeAsync(path, { data: { order: 2 } }, { prefer: 'respond-async', 'idempotency-key': key });
    expect(other.status).toBe(422);
    expect(other.body.message).toMatch(/idempotency/i);

    const view = await finalView(id);
    expect(view).toMatchObject({ status: 'succeeded', idempotencyKey: key });
    await sleep(1000);
    expect((await eventsOf(id)).length).toBe(1);
    const page = await call<InvocationPage>('GET', `/api/v1/invocations?functionId=${fn.echo}&limit=500`);
    expect(page.body.items.filter((i) => i.idempotencyKey === key).map((i) => i.id)).toEqual([id]);
  });

  it('POSTs the result to the callback URL, signed with the ed25519 key the platform publishes (Standard Webhooks v1a)', async () => {
    const keyView = await call<CallbackKeyView>('GET', '/api/v1/invocations/callback-key');
    expect(keyView.status).toBe(200);
    expect(keyView.body.algorithm).toBe('ed25519');
    const key: KeyObject = createPublicKey(keyView.body.publicKeyPem);
    expect(key.asymmetricKeyType).toBe('ed25519');
    expect(Buffer.from(keyView.body.publicKey, 'base64')).toHaveLength(32);

    const r = await invokeAsync(`/api/v1/functions/invoke/${fn.echo}`, { data: { hello: 'callback' } }, { 'x-callback-url': receiver.url('/hook?tenant=7') });
    const id = expectAccepted(r, fn.echo);
    const cb = await receiver.delivered(id);
    expect(cb.path).toBe('/hook?tenant=7');
    expect(cb.headers['content-type']).toMatch(/^application\/json/);
    expect(cb.headers['x-invocation-id']).toBe(id);
    expect(cb.headers['x-hks-status']).toBe('succeeded');
    expect(Math.abs(Number(cb.timestamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(cb.signature).toMatch(/^v1a,[A-Za-z0-9+/=]+( |$)/);
    expect(signatureVerifies(cb, key)).toBe(true);
    expect(signatureVerifies(cb, keyFromRaw(keyView.body.publicKey))).toBe(true);
    // The signature covers the id, the time and the body: a change to any of them fails it.
    expect(signatureVerifies({ ...cb, body: cb.body.replace('callback', 'callbacK') }, key)).toBe(false);
    expect(signatureVerifies({ ...cb, timestamp: String(Number(cb.timestamp) + 1) }, key)).toBe(false);

    const body = JSON.parse(cb.body) as InvocationCallbackBody;
    expect(body).toMatchObject({
      invocationId: id,
      functionId: fn.echo,
      status: 'succeeded',
      attempts: 1,
      error: null,
      value: { style: 'data', data: { hello: 'callback' } },
    });
    expect(body.result).toMatchObject({ statusCode: 200 });
    const view = await viewWhen(id, (v) => v.callback?.status === 'delivered', 'its callback delivered');
    expect(view.callback).toMatchObject({ url: receiver.url('/hook?tenant=7'), status: 'delivered', attempts: 1, lastError: null });

    // A dead letter is called back too, with its error.
    const deadId = expectAccepted(
      await invokeAsync(`/api/v1/functions/invoke/${fn.thrower}`, { data: {} }, { 'x-callback-url': receiver.url('/hook') }),
      fn.thrower,
    );
    const deadCb = await receiver.delivered(deadId);
    expect(signatureVerifies(deadCb, key)).toBe(true);
    expect(JSON.parse(deadCb.body)).toMatchObject({ invocationId: deadId, status: 'dead', attempts: 3, error: expect.stringContaining('no luck today') });
    expect(deadCb.headers['x-hks-status']).toBe('dead');
  });

  it('delivers a callback again when the receiver answered 500 to the first one', async () => {
    const id = expectAccepted(
      await invokeAsync(`/api/v1/functions/invoke/${fn.echo}`, { data: 'again' }, { 'x-callback-url': receiver.url('/fail-first') }),
      fn.echo,
    );
    const cb = await receiver.delivered(id, 20_000);
    expect(receiver.of(id).map((c) => c.answered)).toEqual([500, 204]);
    expect(cb.id).toBe(id);
    const view = await viewWhen(id, (v) => v.callback?.status === 'delivered', 'its callback delivered');
    expect(view.callback).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it('refuses a bad callback URL, a bad idempotency key and an unknown function with a clear 4xx', async () => {
    const path = `/api/v1/functions/invoke/${fn.echo}`;
    const notUrl = await invokeAsync(path, { data: 1 }, { 'x-callback-url': 'not a url' });
    expect(notUrl.status).toBe(400);
    expect(notUrl.body.message).toMatch(/callback/i);
    const ftp = await invokeAsync(path, { data: 1 }, { 'x-callback-url': 'ftp://example.com/hook' });
    expect(ftp.status).toBe(400);
    const tooLong = await invokeAsync(path, { data: 1 }, { 'x-callback-url': `http://example.com/${'a'.repeat(2100)}` });
    expect(tooLong.status).toBe(400);
    const elsewhere = await invokeAsync(path, { data: 1 }, { 'x-callback-url': 'http://hooks.example.com/hks' });
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.message).toContain('DEPLOYER_CALLBACK_ALLOWED_HOSTS');
    const longKey = await invokeAsync(path, { data: 1 }, { prefer: 'respond-async', 'idempotency-key': 'k'.repeat(256) });
    expect(longKey.status).toBe(400);
    expect(longKey.body.message).toMatch(/idempotency/i);
    const unknown = await invokeAsync('/api/v1/functions/invoke/00000000-0000-4000-8000-000000000000', { data: 1 });
    expect(unknown.status).toBe(404);
    expect((await invokeAsync('/fn/no-such-function', { a: 1 })).status).toBe(404);

    expect((await call('GET', '/api/v1/invocations/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const badId = await call('GET', '/api/v1/invocations/not-a-uuid');
    expect(badId.status).toBe(400);
    const badStatus = await call('GET', '/api/v1/invocations?status=sleeping');
    expect(badStatus.status).toBe(400);
    expect(badStatus.body.message).toContain('status must be one of');
  });

  it('shows a synchronous invocation from its events, and replays it as a new asynchronous one', async () => {
    const sync = await call('POST', `/api/v1/functions/invoke/${fn.echo}`, { data: { replay: 'me' } });
    expect(sync.status).toBe(200);
    const syncId = sync.headers.get('x-invocation-id')!;
    const seen = await viewWhen(syncId, () => true, 'visible from its events');
    expect(seen).toMatchObject({ id: syncId, functionId: fn.echo, async: false, status: 'succeeded' });
    expect(seen.attempts).toHaveLength(1);

    const replay = await call<AcceptedInvocation>('POST', `/api/v1/invocations/${syncId}/replay`, {});
    expect(replay.status).toBe(202);
    const replayId = replay.body.invocationId;
    expect(replayId).not.toBe(syncId);
    expect(replay.headers.get('location')).toBe(`/api/v1/invocations/${replayId}`);
    const view = await finalView(replayId);
    expect(view).toMatchObject({ status: 'succeeded', async: true, source: 'replay', replayOf: syncId });
    expect(JSON.parse(view.result!.body)).toEqual(sync.body);

    // An asynchronous one replays from its stored request.
    const original = expectAccepted(await invokeAsync(`/api/v1/functions/invoke/${fn.echo}`, { data: { replay: 'async' } }), fn.echo);
    const done = await finalView(original);
    const again = await call<AcceptedInvocation>('POST', `/api/v1/invocations/${original}/replay`, { version: 'current' });
    expect(again.status).toBe(202);
    const replayed = await finalView(again.body.invocationId);
    expect(replayed).toMatchObject({ status: 'succeeded', replayOf: original, source: 'replay' });
    expect(replayed.result!.body).toBe(done.result!.body);
    expect(replayed.request).toMatchObject({ style: done.request.style, method: done.request.method, body: done.request.body });

    expect((await call('POST', '/api/v1/invocations/00000000-0000-4000-8000-000000000000/replay', {})).status).toBe(404);
    const badVersion = await call('POST', `/api/v1/invocations/${original}/replay`, { version: 'latest' });
    expect(badVersion.status).toBe(400);
    expect(badVersion.body.message).toContain('version');
  });

  it('cancels a queued invocation (waiting for its next attempt), and refuses to cancel one that ended', async () => {
    const id = expectAccepted(await invokeAsync(`/api/v1/functions/invoke/${fn.patient}`, { data: {} }), fn.patient);
    const waiting = await viewWhen(id, (v) => v.status === 'queued' && v.attempts.length === 1 && v.attempts[0].outcome === 'error', 'queued after attempt 1');
    expect(new Date(waiting.nextAttemptAt!).getTime()).toBeGreaterThan(Date.now() + 3_000_000);
    const cancelled = await call<InvocationView>('POST', `/api/v1/invocations/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ id, status: 'cancelled' });
    expect((await call<InvocationView>('GET', `/api/v1/invocations/${id}`)).body.status).toBe('cancelled');
    const twice = await call('POST', `/api/v1/invocations/${id}/cancel`);
    expect(twice.status).toBe(409);
    expect(twice.body.message).toContain('cancelled');
    expect((await call('POST', '/api/v1/invocations/00000000-0000-4000-8000-000000000000/cancel')).status).toBe(404);
    const listed = await call<InvocationPage>('GET', `/api/v1/invocations?status=cancelled&functionId=${fn.patient}`);
    expect(listed.body.items.map((i) => i.id)).toEqual([id]);
  });

  it("answers 429 once the function's scaling.asyncQueueSize is full, refuses to cancel a running one and cancels a queued one", async () => {
    const path = `/api/v1/functions/invoke/${fn.slow}`;
    const running = expectAccepted(await invokeAsync(path, { data: 1 }), fn.slow);
    const waiting = expectAccepted(await invokeAsync(path, { data: 2 }), fn.slow);
    const full = await invokeAsync(path, { data: 3 });
    expect(full.status).toBe(429);
    expect(full.body.message).toMatch(/asyncQueueSize|queue/);

    await viewWhen(running, (v) => v.status === 'running', 'running');
    const busy = await call('POST', `/api/v1/invocations/${running}/cancel`);
    expect(busy.status).toBe(409);
    expect(busy.body.message).toContain('running');
    // One instance running one request at a time: the second waits in the queue until the first has ended.
    expect((await call<InvocationView>('GET', `/api/v1/invocations/${waiting}`)).body.status).toBe('queued');
    const cancelled = await call<InvocationView>('POST', `/api/v1/invocations/${waiting}/cancel`);
    expect(cancelled.body).toMatchObject({ status: 'cancelled' });
    expect((await finalView(running)).status).toBe('succeeded');
    // Room again.
    const next = expectAccepted(await invokeAsync(path, { data: 4 }), fn.slow);
    expect((await finalView(next)).status).toBe('succeeded');
    expect(await eventsOf(waiting)).toEqual([]);
  }, 60_000);

  it('invokes asynchronously and follows the invocation with the hks command line', async () => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first`);
    const home = mkdtempSync(path.join(tmpdir(), 'hks-async-cli-'));
    // As a user runs it (test/cli.e2e-spec.ts): a clean environment, the gateway and the key from outside.
    const hks = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [BIN, ...args],
          { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, HKS_GATEWAY_URL: p.gatewayUrl, HKS_API_KEY: p.adminKey }, timeout: 60_000 },
          (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
        );
      });
    try {
      const key = `cli-${Date.now()}`;
      const queued = await hks(['function', 'invoke', 'async-echo', '--async', '--data', '{"cli": 1}', '--idempotency-key', key]);
      expect(queued).toMatchObject({ code: 0 });
      const accepted = JSON.parse(queued.stdout) as AcceptedInvocation;
      expect(accepted).toMatchObject({ functionId: fn.echo, status: 'queued', duplicate: false });
      const id = accepted.invocationId;
      expect(queued.stderr).toContain(`hks invocations get ${id}`);
      const again = await hks(['function', 'invoke', 'async-echo', '--async', '--data', '{"cli": 1}', '--idempotency-key', key]);
      expect(JSON.parse(again.stdout)).toMatchObject({ invocationId: id, duplicate: true });

      await finalView(id);
      const got = await hks(['invocations', 'get', id, '-o', 'json']);
      expect(got.code).toBe(0);
      expect(JSON.parse(got.stdout)).toMatchObject({ id, status: 'succeeded', idempotencyKey: key });
      const table = await hks(['invocations', 'get', id]);
      expect(table.code).toBe(0);
      expect(table.stdout).toContain('succeeded');
      const listed = await hks(['invocations', 'list', '--function', 'async-echo', '--status', 'succeeded', '-o', 'json']);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain(id);

      const dead = await hks(['invocations', 'list', '--status', 'dead']);
      expect(dead.code).toBe(0);
      const unknown = await hks(['invocations', 'get', '00000000-0000-4000-8000-000000000000']);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/^error: /);
      // An idempotency key without --async is a usage error, caught before anything is sent.
      expect((await hks(['function', 'invoke', 'async-echo', '--idempotency-key', 'k'])).code).toBe(2);
      const keyOut = await hks(['invocations', 'callback-key']);
      expect(keyOut.code).toBe(0);
      expect(keyOut.stdout).toContain('BEGIN PUBLIC KEY');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }, 60_000);

  it("classifies each attempt: a function's 4xx fails at once, its 5xx is retried, 3xx succeeds, a timeout left out of retry.on fails", async () => {
    const run = async (sub: string) => finalView(expectAccepted(await invokeAsync(`/fn/async-answers${sub}`, {}), fn.answers));
    const notFound = await run('/status/404');
    expect(notFound).toMatchObject({ status: 'failed', result: { statusCode: 404, body: 'asked for 404' } });
    expect(notFound.attempts.map((a) => a.outcome)).toEqual(['4xx']);
    const unavailable = await run('/status/503');
    expect(unavailable).toMatchObject({ status: 'dead', result: { statusCode: 503 } });
    expect(unavailable.attempts.map((a) => a.outcome)).toEqual(['5xx', '5xx']);
    const moved = await run('/status/302');
    expect(moved).toMatchObject({ status: 'succeeded', result: { statusCode: 302 } });
    const late = await run('/sleep');
    expect(late.status).toBe('failed');
    expect(late.attempts.map((a) => a.outcome)).toEqual(['timeout']);
    expect(late.error).toMatch(/time/i);
  });

  it('refuses an asynchronous body over GATEWAY_ASYNC_MAX_BODY_BYTES with 413 (a synchronous one of that size still runs)', async () => {
    const big = { data: 'x'.repeat(ASYNC_BODY_LIMIT + 1000) };
    const refused = await invokeAsync(`/api/v1/functions/invoke/${fn.echo}`, big);
    expect(refused.status).toBe(413);
    expect(refused.body.message).toContain(String(ASYNC_BODY_LIMIT));
    expect((await call('POST', `/api/v1/functions/invoke/${fn.echo}`, big)).status).toBe(200);
  });

  it('replays on the original version, and refuses to replay a synchronous invocation whose recorded request was cut', async () => {
    const original = expectAccepted(await invokeAsync(`/api/v1/functions/invoke/${fn.echo}`, { data: 'pinned' }), fn.echo);
    const ran = await finalView(original);
    expect(ran.version).toBe(1);
    const again = await call<AcceptedInvocation>('POST', `/api/v1/invocations/${original}/replay`, { version: 'original' });
    expect(again.status).toBe(202);
    expect(await finalView(again.body.invocationId)).toMatchObject({ status: 'succeeded', version: 1, replayOf: original });

    // The event store keeps 64 KiB of a request: a larger one cannot be replayed as it was.
    const sync = await call('POST', `/api/v1/functions/invoke/${fn.echo}`, { data: 'y'.repeat(70 * 1024) });
    expect(sync.status).toBe(200);
    const syncId = sync.headers.get('x-invocation-id')!;
    await viewWhen(syncId, () => true, 'visible from its events');
    const cut = await call('POST', `/api/v1/invocations/${syncId}/replay`, {});
    expect(cut.status).toBe(409);
    expect(cut.body.message).toMatch(/cut/);
  });

  it('keeps a callback that cannot be delivered pending, with its error, and tries it again', async () => {
    const closed = await freePort();
    const id = expectAccepted(
      await invokeAsync(`/api/v1/functions/invoke/${fn.echo}`, { data: 1 }, { 'x-callback-url': `http://127.0.0.1:${closed}/nobody` }),
      fn.echo,
    );
    const view = await viewWhen(id, (v) => (v.callback?.attempts ?? 0) >= 2, 'two delivery attempts of its callback', 15_000);
    expect(view.status).toBe('succeeded');
    expect(view.callback).toMatchObject({ url: `http://127.0.0.1:${closed}/nobody`, status: 'pending', deliveredAt: null });
    expect(view.callback!.lastError).toBeTruthy();
  });

  it('lets an invoke key ask for, and follow, what it may invoke synchronously, and no more', async () => {
    const created = await call<{ key: string }>('POST', '/api/v1/keys', { name: 'async-invoker', scope: 'invoke', functions: ['async-echo'] });
    expect(created.status).toBe(201);
    const as = { authorization: `Bearer ${created.body.key}` };
    const byLabel = await api<AcceptedInvocation>(
      p.gatewayUrl,
      'POST',
      '/api/v1/functions/invoke/async-echo',
      { data: 'by label' },
      { ...as, prefer: 'respond-async' },
    );
    const id = expectAccepted(byLabel, fn.echo);
    expectAccepted(await api<AcceptedInvocation>(p.gatewayUrl, 'POST', '/fn/async-echo', { a: 1 }, { ...as, 'x-invocation-type': 'Event' }), fn.echo);
    const other = await api(p.gatewayUrl, 'POST', `/api/v1/functions/invoke/${fn.thrower}`, { data: 1 }, { ...as, prefer: 'respond-async' });
    expect(other.status).toBe(403);
    const none = await api(p.gatewayUrl, 'POST', `/api/v1/functions/invoke/${fn.echo}`, { data: 1 }, { prefer: 'respond-async' });
    expect(none.status).toBe(401);
    // It may follow its own invocations; those of other functions do not exist for it; listing, redriving and
    // replaying are the admin's.
    expect((await finalView(id)).status).toBe('succeeded');
    const own = await api<InvocationView>(p.gatewayUrl, 'GET', `/api/v1/invocations/${id}`, undefined, as);
    expect({ status: own.status, id: own.body.id }).toEqual({ status: 200, id });
    const theirs = expectAccepted(await invokeAsync(`/api/v1/functions/invoke/${fn.thrower}`, { data: 'not yours' }), fn.thrower);
    expect((await api(p.gatewayUrl, 'GET', `/api/v1/invocations/${theirs}`, undefined, as)).status).toBe(404);
    expect((await api(p.gatewayUrl, 'POST', `/api/v1/invocations/${theirs}/cancel`, undefined, as)).status).toBe(404);
    expect((await api(p.gatewayUrl, 'GET', '/api/v1/invocations', undefined, as)).status).toBe(403);
    expect((await api(p.gatewayUrl, 'POST', `/api/v1/invocations/${id}/replay`, {}, as)).status).toBe(403);
    expect((await api(p.gatewayUrl, 'POST', `/api/v1/invocations/${id}/redrive`, undefined, as)).status).toBe(403);
    expect((await api(p.gatewayUrl, 'GET', '/api/v1/invocations/callback-key')).status).toBe(401);
    await finalView(theirs);
  });

  it('stores a GET, a binary body and the same idempotency key on two functions as they came', async () => {
    const get = expectAccepted(await call<AcceptedInvocation>('GET', '/fn/async-echo/read?y=2', undefined, { 'x-invocation-type': 'Event' }), fn.echo);
    const got = JSON.parse((await finalView(get)).result!.body) as { method: string; query: unknown };
    expect(got).toMatchObject({ method: 'GET', query: { y: '2' } });

    const bytes = Buffer.from([0, 255, 1, 254, 10]);
    const res = await fetch(`${p.gatewayUrl}/fn/async-echo/bytes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.adminKey}`, 'content-type': 'application/octet-stream', prefer: 'respond-async' },
      body: bytes,
    });
    expect(res.status).toBe(202);
    const binary = await finalView(((await res.json()) as AcceptedInvocation).invocationId);
    expect(Buffer.from(binary.request.body, 'base64')).toEqual(bytes);
    const seen = JSON.parse(binary.result!.body) as { body: string; b64: boolean };
    expect(seen.b64).toBe(true);
    expect(Buffer.from(seen.body, 'base64')).toEqual(bytes);

    const key = `shared-${Date.now()}`;
    const a = await invokeAsync(`/api/v1/functions/invoke/${fn.echo}`, { data: 1 }, { prefer: 'respond-async', 'idempotency-key': key });
    const b = await invokeAsync(`/api/v1/functions/invoke/${fn.flaky}`, { data: 1 }, { prefer: 'respond-async', 'idempotency-key': key });
    expect(a.body.duplicate).toBe(false);
    expect(b.body.duplicate).toBe(false);
    expect(a.body.invocationId).not.toBe(b.body.invocationId);
    await finalView(a.body.invocationId);
    await finalView(b.body.invocationId);
  });

  it('replays a synchronous HTTP-style invocation with its method, path, query and body', async () => {
    const sync = await call('PUT', '/fn/async-echo/items/7?tag=blue', { colour: 'blue' });
    expect(sync.status).toBe(200);
    const syncId = sync.headers.get('x-invocation-id')!;
    await viewWhen(syncId, () => true, 'visible from its events');
    const replay = await call<AcceptedInvocation>('POST', `/api/v1/invocations/${syncId}/replay`, {});
    expect(replay.status).toBe(202);
    const view = await finalView(replay.body.invocationId);
    expect(view.request).toMatchObject({ style: 'http', method: 'PUT', query: 'tag=blue' });
    expect(view.request.path).toMatch(/\/items\/7$/);
    const again = JSON.parse(view.result!.body) as { method: string; path: string; query: unknown; body: string };
    const first = sync.body as unknown as typeof again;
    expect({ method: again.method, path: again.path, query: again.query, body: JSON.parse(again.body) as unknown }).toEqual({
      method: first.method,
      path: first.path,
      query: first.query,
      body: JSON.parse(first.body) as unknown,
    });
  });

  it('pages the list newest first', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(expectAccepted(await invokeAsync(`/fn/async-echo`, { page: i }), fn.echo));
    const first = await call<InvocationPage>('GET', `/api/v1/invocations?functionId=${fn.echo}&limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.items.map((i) => i.id)).toEqual([ids[2], ids[1]]);
    expect(first.body.next).toBeTruthy();
    const second = await call<InvocationPage>('GET', `/api/v1/invocations?functionId=${fn.echo}&limit=2&before=${encodeURIComponent(first.body.next!)}`);
    expect(second.body.items[0].id).toBe(ids[0]);
    for (const id of ids) expect(isFinal((await finalView(id)).status)).toBe(true);
  });

  // Last: a deployer that stopped answering would fail every test after it.
  it('accepts a burst of 50 at once, twice (a second apart), and runs them all', async () => {
    const ids: string[] = [];
    for (const round of [1, 2]) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) => invokeAsync(`/api/v1/functions/invoke/${fn.echo}`, { data: { round, i } }, { 'x-invocation-type': 'Event' })),
      );
      const byStatus = answers.reduce<Record<number, number>>((acc, a) => ({ ...acc, [a.status]: (acc[a.status] ?? 0) + 1 }), {});
      expect({ round, byStatus, firstRefusal: answers.find((a) => a.status !== 202)?.text }).toEqual({ round, byStatus: { 202: 50 }, firstRefusal: undefined });
      ids.push(...answers.map((a) => a.body.invocationId));
      await sleep(1100);
    }
    for (const id of ids) expect((await finalView(id)).status).toBe('succeeded');
  }, 90_000);
});
