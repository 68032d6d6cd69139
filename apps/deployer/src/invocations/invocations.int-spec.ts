import { createPublicKey, verify } from 'crypto';
import { createServer, IncomingHttpHeaders, Server } from 'http';
import { AddressInfo } from 'net';
import { INestApplication } from '@nestjs/common';
import amqplib from 'amqplib';
import {
  AcceptedInvocation,
  AcceptInvocationCommand,
  CallbackKeyView,
  CONFIG_DEFAULTS,
  DeploymentPatterns,
  FunctionConfigDto,
  InvocationCallbackBody,
  InvocationPage,
  InvocationPatterns,
  InvocationView,
  RedriveManyResult,
  StoredRequest,
} from '@platform/contracts';
import { AMQP_URL, PG_ADMIN_URL, TcpProxy, uniqueName, waitFor } from '@platform/testing';
import { DeployerHarness } from '../../test-fixtures/deployer-harness';
import { FakeEventStoreState, startFakeEventStore } from '../../test-fixtures/fake-event-store';
import { InvocationQueue } from './invocation-queue';
import { InvocationStore } from './invocation.store';

jest.setTimeout(60_000);

const FAST_RETRY: FunctionConfigDto['retry'] = { attempts: 3, initialDelayMs: 50, multiplier: 2, jitter: 'none' };
const handlerFailed = { status: 500, headers: { 'x-hks-failure-reason': 'error' }, body: { statusCode: 500, error: 'Internal Server Error', message: 'boom' } };

function dataRequest(data: unknown): StoredRequest {
  return {
    style: 'data',
    method: 'POST',
    path: '/',
    query: '',
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ data })).toString('base64'),
  };
}

/** A receiver for callbacks: records each POST; answers `answers` in turn, then 200. */
class CallbackReceiver {
  readonly received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  readonly answers: number[] = [];
  private server?: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        this.received.push({ headers: req.headers, body });
        res.writeHead(this.answers.shift() ?? 200).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('asynchronous invocations in the deployer (real Postgres and RabbitMQ, HTTP invoker)', () => {
  const h = new DeployerHarness();
  const eventStore = new FakeEventStoreState();
  const receiver = new CallbackReceiver();
  let eventStoreApp: INestApplication;

  const accept = (functionId: string, extra: Partial<AcceptInvocationCommand> = {}) =>
    h.call<AcceptedInvocation>(InvocationPatterns.Accept, { functionId, request: dataRequest({ hello: 1 }), source: 'api', ...extra });
  const get = (id: string) => h.call<InvocationView>(InvocationPatterns.Get, { id });
  const settled = (id: string, status: string, timeoutMs = 10_000) =>
    waitFor(
      async () => {
        const v = await get(id);
        return v.status === status ? v : undefined;
      },
      { what: `invocation ${id} ${status}`, timeoutMs },
    );
  /** A function deployed (so its config is the policy) with the given config. */
  const deployed = async (label: string, config: FunctionConfigDto = {}) => {
    const spec = h.registry.addFunction(label, { retry: FAST_RETRY, ...config });
    await h.call(DeploymentPatterns.Deploy, { functionId: spec.functionId });
    return spec.functionId;
  };
  const attemptsSent = (functionId: string) => h.invoker.invocations(functionId).map((c) => c.headers['x-hks-attempt']);

  beforeAll(async () => {
    await receiver.start();
    await h.start({
      DEPLOYER_ASYNC_PUMP_INTERVAL_MS: '50',
      DEPLOYER_ASYNC_LEASE_MS: '1500',
      DEPLOYER_ASYNC_LEASE_RENEW_MS: '300',
      DEPLOYER_ASYNC_SHUTDOWN_GRACE_MS: '0',
      DEPLOYER_CALLBACK_RETRY_MS: '100',
      DEPLOYER_EVENT_STORE_TIMEOUT_MS: '2000',
      DEPLOYER_ASYNC_UNAVAILABLE_RETRY_MS: '20',
    });
    eventStoreApp = await startFakeEventStore(h.env, eventStore);
  });

  afterAll(async () => {
    await eventStoreApp?.close();
    // The harness removes the namespace's queues, the work queue and the event store's RPC queue included.
    await h.stop();
    await receiver.stop();
  });

  let succeededId: string;

  it('accepts an invocation (findable at once), runs it with its id and attempt number, and records the result', async () => {
    const fn = await deployed('async-hello');
    const accepted = await accept(fn);
    expect(accepted).toEqual({
      invocationId: expect.any(String),
      functionId: fn,
      status: 'queued',
      statusUrl: `/api/v1/invocations/${accepted.invocationId}`,
      duplicate: false,
    });
    expect((await get(accepted.invocationId)).async).toBe(true);

    const done = await settled(accepted.invocationId, 'succeeded');
    expect(done).toMatchObject({ label: 'async-hello', source: 'api', version: 1, maxAttempts: 3, error: null, nextAttemptAt: null });
    expect(done.result).toMatchObject({ statusCode: 200, body: '{"ok":true}', isBase64Encoded: false });
    expect(done.attempts).toEqual([expect.objectContaining({ number: 1, outcome: 'succeeded', statusCode: 200, error: null })]);
    expect(done.finishedAt).not.toBeNull();
    const [call] = h.invoker.invocations(fn);
    expect(call.path).toBe(`/invoke/${fn}`);
    expect(call.body).toEqual({ data: { hello: 1 } });
    expect(call.headers).toMatchObject({ 'x-hks-invocation-id': accepted.invocationId, 'x-hks-attempt': '1' });
    succeededId = accepted.invocationId;
  });

  it('takes the defaults (CONFIG_DEFAULTS.retry) for a function that is not deployed', async () => {
    const fn = h.registry.addFunction('async-not-deployed', { retry: { attempts: 7 } }).functionId;
    const { invocationId } = await accept(fn);
    const view = await get(invocationId);
    expect(view).toMatchObject({ maxAttempts: CONFIG_DEFAULTS.retry.attempts, label: fn });
    await settled(invocationId, 'succeeded');
  });

  it('fills in the defaults for a deployment stored before config.retry and scaling.asyncQueueSize existed', async () => {
    const spec = h.registry.addFunction('async-old-spec');
    const { retry: _retry, ...config } = spec.config;
    const { asyncQueueSize: _size, ...scaling } = config.scaling;
    spec.config = { ...config, scaling } as typeof spec.config;
    await h.call(DeploymentPatterns.Deploy, { functionId: spec.functionId });
    const { invocationId } = await accept(spec.functionId);
    expect(await settled(invocationId, 'succeeded')).toMatchObject({ maxAttempts: CONFIG_DEFAULTS.retry.attempts, version: 1 });
  });

  it('retries a handler that fails twice (x-hks-failure-reason: error) and succeeds on attempt 3', async () => {
    const fn = await deployed('async-flaky');
    h.invoker.answerInvoke(fn, handlerFailed, handlerFailed);
    const { invocationId } = await accept(fn);
    const done = await settled(invocationId, 'succeeded');
    expect(done.attempts.map((a) => [a.number, a.outcome, a.statusCode])).toEqual([
      [1, 'error', 500],
      [2, 'error', 500],
      [3, 'succeeded', 200],
    ]);
    expect(done.attempts[0].error).toBe('boom');
    expect(attemptsSent(fn)).toEqual(['1', '2', '3']);
  });

  it('does not use up attempts while the invoker cannot run the function (restarting, shutting down, full)', async () => {
    const fn = await deployed('async-invoker-restart', { retry: { ...FAST_RETRY, attempts: 2 } });
    const refused = { status: 503, body: { message: 'the invoker is not ready' } };
    const shutdown = { status: 503, headers: { 'x-hks-failure-reason': 'shutdown', 'x-invocation-id': 'x' }, body: { message: 'shutting down' } };
    const cut = {
      status: 503,
      headers: { 'x-hks-failure-reason': 'crash', 'x-invocation-id': 'x' },
      body: { message: 'the invoker is shutting down: this invocation was still running when its 10 ms drain period ended' },
    };
    h.invoker.answerInvoke(fn, refused, shutdown, cut, refused, handlerFailed);
    const { invocationId } = await accept(fn);
    const done = await settled(invocationId, 'succeeded');
    expect(done.attempts.map((a) => a.outcome)).toEqual(['unavailable', 'unavailable', 'unavailable', 'unavailable', 'error', 'succeeded']);
    expect(attemptsSent(fn)).toEqual(['1', '2', '3', '4', '5', '6']);
  });

  it('fails a 4xx answer without retrying it', async () => {
    const fn = await deployed('async-bad-input');
    h.invoker.answerInvoke(fn, { status: 422, body: { statusCode: 422, error: 'Unprocessable Entity', message: 'name is required' } });
    const { invocationId } = await accept(fn);
    const done = await settled(invocationId, 'failed');
    expect(done.attempts).toEqual([expect.objectContaining({ outcome: '4xx', statusCode: 422, error: 'name is required' })]);
    expect(done.error).toBe('4xx: name is required');
    expect(done.result).toMatchObject({ statusCode: 422 });
    await new Promise((r) => setTimeout(r, 300));
    expect(h.invoker.invocations(fn)).toHaveLength(1);
  });

  it('dead-letters an invocation whose attempts all failed, lists it as dead, and runs it again when redriven', async () => {
    const fn = await deployed('async-doomed', { retry: { ...FAST_RETRY, attempts: 2 } });
    h.invoker.answerInvoke(fn, handlerFailed, handlerFailed, handlerFailed, handlerFailed);
    const first = (await accept(fn)).invocationId;
    const dead = await settled(first, 'dead');
    expect(dead.error).toBe('all 2 attempt(s) failed; the last one: error: boom');
    const second = (await accept(fn, { request: dataRequest({ hello: 2 }) })).invocationId;
    await settled(second, 'dead');

    const page = await h.call<InvocationPage>(InvocationPatterns.List, { functionId: fn, status: 'dead' });
    expect(page.items.map((i) => i.id)).toEqual([second, first]);
    expect(page.items[0].request).toEqual({ ...dataRequest({ hello: 2 }), body: '' });

    const redriven = await h.call<InvocationView>(InvocationPatterns.Redrive, { id: first });
    expect(redriven.status).toMatch(/queued|running/);
    const again = await settled(first, 'succeeded');
    expect(again.attempts.map((a) => [a.number, a.outcome])).toEqual([
      [1, 'error'],
      [2, 'error'],
      [3, 'succeeded'],
    ]);
    expect(h.invoker.invocations(fn).find((c) => c.headers['x-hks-attempt'] === '3')?.headers['x-hks-invocation-id']).toBe(first);

    const many = await h.call<RedriveManyResult>(InvocationPatterns.RedriveMany, { functionId: fn });
    expect(many).toEqual({ redriven: 1, ids: [second] });
    await settled(second, 'succeeded');
    await expect(h.call(InvocationPatterns.Redrive, { id: first })).rejects.toMatchObject({
      statusCode: 409,
      message: `invocation ${first} is succeeded; only a dead or failed invocation can be redriven`,
    });
  });

  it('gives a redriven dead letter a full round: retry.maxAgeMs counts from the redrive, not from the accept', async () => {
    const fn = await deployed('async-old-dead-letter');
    h.invoker.answerInvoke(fn, handlerFailed, handlerFailed);
    const id = '44444444-5555-4666-8777-888888888888';
    const longAgo = new Date(Date.now() - 2 * 3600_000);
    await h.deployer!.get(InvocationStore).repo.insert({
      id,
      functionId: fn,
      label: 'async-old-dead-letter',
      status: 'dead',
      source: 'api',
      maxAttempts: 3,
      retry: { attempts: 3, initialDelayMs: 50, maxDelayMs: 1000, multiplier: 2, jitter: 'none', on: ['error'], maxAgeMs: 3600_000 },
      attempts: 1,
      attemptLog: [
        { number: 1, outcome: 'error', startedAt: longAgo.toISOString(), endedAt: longAgo.toISOString(), durationMs: 1, statusCode: 500, error: 'boom' },
      ],
      request: dataRequest('old'),
      requestSha256: 'x',
      callbackAttempts: 0,
      dueAt: longAgo,
      acceptedAt: longAgo,
      roundStartedAt: longAgo,
      finishedAt: longAgo,
    });
    await h.call(InvocationPatterns.Redrive, { id });
    const done = await settled(id, 'succeeded');
    expect(done.attempts.map((a) => a.outcome)).toEqual(['error', 'error', 'error', 'succeeded']);
  });

  it('fences off a stale end of an attempt from before a redrive, though the new round counts from 1 again', async () => {
    const fn = await deployed('async-fenced', { retry: { ...FAST_RETRY, attempts: 1 } });
    h.invoker.answerInvoke(fn, handlerFailed, { status: 200, body: { ok: 'second round' }, delayMs: 800 });
    const { invocationId } = await accept(fn);
    await settled(invocationId, 'dead');
    await h.call(InvocationPatterns.Redrive, { id: invocationId });
    await waitFor(async () => (await get(invocationId)).status === 'running', { what: 'the second round to run' });

    // What a deployer that lost the lease of round 1's attempt 1 would write now: same id, same count (1), older number.
    const stale = await h.deployer!.get(InvocationStore).endAttempt({
      id: invocationId,
      attempts: 1,
      attempt: { number: 1, outcome: 'succeeded', startedAt: new Date().toISOString(), endedAt: null, durationMs: 1, statusCode: 200, error: null },
      status: 'succeeded',
      result: null,
      error: null,
    });
    expect(stale).toBe(false);
    const done = await settled(invocationId, 'succeeded');
    expect(done.attempts.map((a) => [a.number, a.outcome])).toEqual([
      [1, 'error'],
      [2, 'succeeded'],
    ]);
    expect(done.result?.body).toBe('{"ok":"second round"}');
  });

  it('stores what Postgres would refuse (NUL, lone surrogates) as base64 or replaced, so the invocation ends instead of staying running', async () => {
    const fn = await deployed('async-unstorable');
    h.invoker.answerInvoke(
      fn,
      { status: 200, raw: 'ok\0', headers: { 'content-type': 'text/plain' } },
      { status: 422, body: { message: `bad \ud800 and \u0000 ${'x'.repeat(10_000)}` } },
    );
    const ok = (await accept(fn, { request: dataRequest('nul') })).invocationId;
    const done = await settled(ok, 'succeeded');
    expect(done.result).toMatchObject({ statusCode: 200, isBase64Encoded: true, body: Buffer.from('ok\0').toString('base64') });
    const bad = (await accept(fn, { request: dataRequest('surrogate') })).invocationId;
    const failed = await settled(bad, 'failed');
    expect(failed.attempts[0].error).toMatch(/^bad \ufffd and \ufffd x+\.\.\.\[cut: \d+ characters in all\]$/);
    expect(failed.attempts[0].error!.length).toBeLessThan(4200);
  });

  it('takes the late outcome of an attempt taken back as interrupted (its deployer lost the database), until a new attempt starts', async () => {
    const fn = await deployed('async-late-outcome');
    const store = h.deployer!.get(InvocationStore);
    const startedAt = new Date().toISOString();
    const running = (id: string) => ({
      id,
      functionId: fn,
      label: 'async-late-outcome',
      status: 'running' as const,
      source: 'api',
      maxAttempts: 3,
      retry: { attempts: 3, initialDelayMs: 50, maxDelayMs: 1000, multiplier: 2, jitter: 'none' as const, on: ['error' as const], maxAgeMs: 60_000 },
      attempts: 1,
      attemptLog: [{ number: 1, outcome: null, startedAt, endedAt: null, durationMs: null, statusCode: null, error: null }],
      request: dataRequest('late'),
      requestSha256: 'x',
      callbackAttempts: 0,
      dueAt: new Date(),
      owner: 'a-deployer-cut-off',
      leaseUntil: new Date(Date.now() + 3_600_000),
      acceptedAt: new Date(),
    });
    const end = (id: string, outcome: 'interrupted' | 'succeeded', status: 'queued' | 'succeeded') =>
      store.endAttempt({
        id,
        attempts: 1,
        attempt: { number: 1, outcome, startedAt, endedAt: new Date().toISOString(), durationMs: 5, statusCode: null, error: null },
        status,
        // An hour: the pump leaves the row alone while the test looks at it.
        delayMs: 3_600_000,
        result: outcome === 'succeeded' ? { statusCode: 200, headers: {}, body: 'late but true', isBase64Encoded: false } : null,
      });
    const late = '33333333-4444-4555-8666-777777777777';
    await store.repo.insert(running(late));
    expect(await end(late, 'interrupted', 'queued')).toBe(true);
    expect(await end(late, 'succeeded', 'succeeded')).toBe(true);
    const done = await get(late);
    expect(done).toMatchObject({ status: 'succeeded', result: { body: 'late but true' } });
    expect(done.attempts).toEqual([expect.objectContaining({ number: 1, outcome: 'succeeded' })]);

    const tooLate = '33333333-4444-4555-8666-888888888888';
    await store.repo.insert(running(tooLate));
    expect(await end(tooLate, 'interrupted', 'queued')).toBe(true);
    // Attempt 2 started (as a claim does): attempt 1's outcome no longer belongs.
    await store.repo.query(`UPDATE "deployer"."invocations" SET status = 'running', attempts = 2, attempt_log = attempt_log || $2::jsonb WHERE id = $1`, [
      tooLate,
      JSON.stringify([{ number: 2, outcome: null, startedAt, endedAt: null, durationMs: null, statusCode: null, error: null }]),
    ]);
    expect(await end(tooLate, 'succeeded', 'succeeded')).toBe(false);
    expect((await get(tooLate)).status).toBe('running');
  });

  it('gives a claim back as if it never happened (a deployer stopping between its claim and the attempt)', async () => {
    const fn = await deployed('async-unclaimed');
    const store = h.deployer!.get(InvocationStore);
    const id = '33333333-4444-4555-8666-999999999999';
    const startedAt = new Date().toISOString();
    await store.repo.insert({
      id,
      functionId: fn,
      label: 'async-unclaimed',
      status: 'running',
      source: 'api',
      maxAttempts: 3,
      retry: { attempts: 3, initialDelayMs: 50, maxDelayMs: 1000, multiplier: 2, jitter: 'none', on: ['error'], maxAgeMs: 60_000 },
      attempts: 2,
      attemptLog: [
        { number: 1, outcome: 'error', startedAt, endedAt: startedAt, durationMs: 1, statusCode: 500, error: 'boom' },
        { number: 2, outcome: null, startedAt, endedAt: null, durationMs: null, statusCode: null, error: null },
      ],
      request: dataRequest('given back'),
      requestSha256: 'x',
      callbackAttempts: 0,
      // Due in an hour: the pump leaves it alone while the test looks.
      dueAt: new Date(Date.now() + 3_600_000),
      owner: 'me',
      leaseUntil: new Date(Date.now() + 3_600_000),
      acceptedAt: new Date(),
    });
    expect(await store.unclaim(id, 2, 2, 'someone-else')).toBe(false);
    expect(await store.unclaim(id, 2, 2, 'me')).toBe(true);
    const row = await store.get(id);
    expect(row).toMatchObject({ status: 'queued', attempts: 1, owner: null, leaseUntil: null });
    expect(row!.attemptLog.map((a) => a.outcome)).toEqual(['error']);
  });

  it('runs an invocation whose id never reached the work queue (a publish that failed after the commit)', async () => {
    const fn = await deployed('async-unpublished');
    const id = '22222222-3333-4444-8555-666666666666';
    const now = new Date();
    await h.deployer!.get(InvocationStore).repo.insert({
      id,
      functionId: fn,
      label: 'async-unpublished',
      status: 'queued',
      source: 'api',
      maxAttempts: 3,
      retry: { attempts: 3, initialDelayMs: 50, maxDelayMs: 1000, multiplier: 2, jitter: 'none', on: ['error', 'timeout', '5xx'], maxAgeMs: 60_000 },
      attempts: 0,
      attemptLog: [],
      request: dataRequest({ lost: 'and found' }),
      requestSha256: 'x',
      callbackAttempts: 0,
      dueAt: now,
      dispatchedAt: null,
      acceptedAt: now,
    });
    await settled(id, 'succeeded');
    expect(h.invoker.invocations(fn).map((c) => c.body)).toEqual([{ data: { lost: 'and found' } }]);
    // What the pump asks before handing over again what was handed over long ago (only when the queue is empty).
    expect(await h.deployer!.get(InvocationQueue).messageCount()).toEqual(expect.any(Number));
  });

  it('does not mark as handed over a retry whose first attempt ran before the accept had marked it', async () => {
    const fn = await deployed('async-fast-retry');
    const store = h.deployer!.get(InvocationStore);
    const id = '55555555-6666-4777-8888-999999999999';
    const startedAt = new Date().toISOString();
    await store.repo.insert({
      id,
      functionId: fn,
      label: 'async-fast-retry',
      status: 'queued',
      source: 'api',
      maxAttempts: 3,
      retry: { attempts: 3, initialDelayMs: 0, maxDelayMs: 0, multiplier: 2, jitter: 'none', on: ['error'], maxAgeMs: 60_000 },
      attempts: 1,
      attemptLog: [{ number: 1, outcome: 'error', startedAt, endedAt: startedAt, durationMs: 1, statusCode: 500, error: 'boom' }],
      request: dataRequest('fast'),
      requestSha256: 'x',
      callbackAttempts: 0,
      // Not due for an hour: the pump leaves it alone while the test looks.
      dueAt: new Date(Date.now() + 3_600_000),
      dispatchedAt: null,
      acceptedAt: new Date(),
    });
    await store.markDispatched([{ id, functionId: fn, logLength: 0 }]);
    expect((await store.get(id))!.dispatchedAt).toBeNull();
    await store.markDispatched([{ id, functionId: fn, logLength: 1 }]);
    expect((await store.get(id))!.dispatchedAt).not.toBeNull();
  });

  it('gives back the pump’s mark of an id it could not publish (and only of those), so the next round tries again', async () => {
    const fn = await deployed('async-unpublishable');
    const store = h.deployer!.get(InvocationStore);
    const ids = ['66666666-7777-4888-8999-aaaaaaaaaaaa', '66666666-7777-4888-8999-bbbbbbbbbbbb'];
    const past = new Date(Date.now() - 3_600_000);
    for (const id of ids) {
      await store.repo.insert({
        id,
        functionId: fn,
        label: 'async-unpublishable',
        status: 'queued',
        source: 'api',
        maxAttempts: 3,
        retry: { attempts: 3, initialDelayMs: 50, maxDelayMs: 1000, multiplier: 2, jitter: 'none', on: ['error'], maxAgeMs: 60_000 },
        attempts: 0,
        attemptLog: [],
        request: dataRequest('unpublishable'),
        requestSha256: 'x',
        callbackAttempts: 0,
        // Handed over a minute before it became due, an hour ago: not due for the pump until it is marked again.
        dueAt: past,
        dispatchedAt: new Date(past.getTime() - 60_000),
        acceptedAt: past,
      });
    }
    // What the pump's mark looks like; the second one is marked again meanwhile (by another round).
    const [[{ marked }]] = (await store.repo.query(
      `UPDATE "deployer"."invocations" SET dispatched_at = now(), due_at = now() + interval '1 hour' WHERE id = ANY($1::uuid[]) RETURNING dispatched_at::text AS marked`,
      [ids],
    )) as [Array<{ marked: string }>, number];
    await store.repo.query(`UPDATE "deployer"."invocations" SET dispatched_at = now() + interval '1 second' WHERE id = $1`, [ids[1]]);
    await store.unmarkDispatched(ids, marked);
    expect((await store.get(ids[0]))!.dispatchedAt).toBeNull();
    expect((await store.get(ids[1]))!.dispatchedAt).not.toBeNull();
  });

  it('pages through the list newest first with the `next` cursor', async () => {
    const fn = await deployed('async-paged');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await accept(fn, { request: dataRequest({ i }) })).invocationId);
    const one = await h.call<InvocationPage>(InvocationPatterns.List, { functionId: fn, limit: 2 });
    expect(one.items.map((i) => i.id)).toEqual([ids[2], ids[1]]);
    const two = await h.call<InvocationPage>(InvocationPatterns.List, { functionId: fn, limit: 2, before: one.next });
    const madeUp = Buffer.from(`${new Date().toISOString()}|not-a-uuid`).toString('base64url');
    await expect(h.call(InvocationPatterns.List, { functionId: fn, before: madeUp })).rejects.toMatchObject({
      statusCode: 400,
      message: 'before must be the `next` of a previous page',
    });
    expect(two).toEqual({ items: [expect.objectContaining({ id: ids[0] })], next: null });
    await expect(h.call(InvocationPatterns.List, { before: 'garbage' })).rejects.toMatchObject({ statusCode: 400 });
  });

  it('cancels a queued invocation waiting for its retry, which then never runs; 409 once it ended; 404 when unknown', async () => {
    const fn = await deployed('async-cancelled', { retry: { attempts: 5, initialDelayMs: 60_000, jitter: 'none' } });
    h.invoker.answerInvoke(fn, { ...handlerFailed, body: { message: 'pool draining' } });
    const { invocationId } = await accept(fn);
    const waiting = await waitFor(
      async () => {
        const v = await get(invocationId);
        return v.status === 'queued' && v.attempts.length === 1 ? v : undefined;
      },
      { what: 'the first attempt to fail' },
    );
    expect(waiting.attempts[0]).toMatchObject({ outcome: 'error', statusCode: 500, error: 'pool draining' });
    expect(new Date(waiting.nextAttemptAt!).getTime()).toBeGreaterThan(Date.now() + 50_000);

    const cancelled = await h.call<InvocationView>(InvocationPatterns.Cancel, { id: invocationId });
    expect(cancelled).toMatchObject({ status: 'cancelled', nextAttemptAt: null });
    await expect(h.call(InvocationPatterns.Cancel, { id: invocationId })).rejects.toMatchObject({
      statusCode: 409,
      message: `invocation ${invocationId} already ended (cancelled); only a queued invocation can be cancelled`,
    });
    await expect(h.call(InvocationPatterns.Cancel, { id: succeededId })).rejects.toMatchObject({ statusCode: 409 });
    await expect(h.call(InvocationPatterns.Cancel, { id: '00000000-0000-4000-8000-000000000000' })).rejects.toMatchObject({ statusCode: 404 });
    await new Promise((r) => setTimeout(r, 300));
    expect(h.invoker.invocations(fn)).toHaveLength(1);
  });

  it('answers a repeated idempotency key with the same invocation, and 422 when the request differs', async () => {
    const fn = await deployed('async-idempotent');
    const first = await accept(fn, { idempotencyKey: 'order-42' });
    const again = await accept(fn, { idempotencyKey: 'order-42' });
    expect(again).toEqual({ ...first, duplicate: true, status: expect.any(String) });
    await expect(accept(fn, { idempotencyKey: 'order-42', request: dataRequest({ hello: 'other' }) })).rejects.toMatchObject({
      statusCode: 422,
      message: expect.stringContaining(`the idempotency key "order-42" was already used for invocation ${first.invocationId} with a different request`),
    });
    await settled(first.invocationId, 'succeeded');
    expect(h.invoker.invocations(fn)).toHaveLength(1);
    await expect(accept(fn, { idempotencyKey: 'bad\nkey' })).rejects.toMatchObject({ statusCode: 400, message: expect.stringContaining('idempotencyKey') });
  });

  it('takes many accepts of one function at once (no lock to queue on), racing idempotency keys included', async () => {
    const fn = await deployed('async-burst');
    // More than the connection pool: accepts once waited on a per-function lock while holding a connection.
    const plain = Array.from({ length: 40 }, () => accept(fn));
    const keyed = Array.from({ length: 10 }, (_, i) => accept(fn, { idempotencyKey: `burst-${i % 2}` }));
    const answers = await Promise.all([...plain, ...keyed]);
    expect(new Set(answers.slice(0, 40).map((a) => a.invocationId)).size).toBe(40);
    const byKey = answers.slice(40);
    expect(new Set(byKey.map((a) => a.invocationId)).size).toBe(2);
    expect(byKey.filter((a) => !a.duplicate)).toHaveLength(2);
    for (const a of answers) await settled(a.invocationId, 'succeeded', 20_000);
    expect(h.invoker.invocations(fn)).toHaveLength(42);
  }, 60_000);

  it('refuses with 413 a body larger than the function’s resources.maxRequestBytes, instead of accepting what cannot run', async () => {
    const fn = await deployed('async-small-bodies', { resources: { maxRequestBytes: 64 } });
    await expect(accept(fn, { request: dataRequest('x'.repeat(100)) })).rejects.toMatchObject({
      statusCode: 413,
      message: expect.stringMatching(/^the request body is 1\d\d bytes; function async-small-bodies takes at most 64 \(resources.maxRequestBytes\)$/),
    });
    const { invocationId } = await accept(fn, { request: dataRequest('small') });
    await settled(invocationId, 'succeeded');
  });

  it('refuses with 429 once scaling.asyncQueueSize invocations are queued or running', async () => {
    const fn = await deployed('async-bounded', { scaling: { asyncQueueSize: 2 } });
    h.invoker.answerInvoke(fn, { status: 200, body: { ok: 1 }, delayMs: 1500 }, { status: 200, body: { ok: 2 }, delayMs: 1500 });
    const a = await accept(fn, { request: dataRequest(1) });
    const b = await accept(fn, { request: dataRequest(2) });
    await expect(accept(fn, { request: dataRequest(3) })).rejects.toMatchObject({
      statusCode: 429,
      message: expect.stringContaining('already has 2 asynchronous invocations queued or running, its limit (scaling.asyncQueueSize)'),
    });
    await settled(a.invocationId, 'succeeded');
    await settled(b.invocationId, 'succeeded');
    expect((await accept(fn, { request: dataRequest(3) })).status).toBe('queued');
  });

  it('POSTs the result to the callback URL, signed (Standard Webhooks v1a) with the key CallbackKey gives, retrying a failed delivery', async () => {
    const fn = await deployed('async-callback');
    receiver.answers.push(500);
    const { invocationId } = await accept(fn, { callbackUrl: receiver.url });
    await waitFor(() => receiver.received.filter((r) => r.headers['webhook-id'] === invocationId).length === 2, { what: 'the callback, twice' });
    const delivered = await waitFor(
      async () => {
        const v = await get(invocationId);
        return v.callback?.status === 'delivered' ? v : undefined;
      },
      { what: 'the callback recorded as delivered' },
    );
    expect(delivered.callback).toMatchObject({ url: receiver.url, attempts: 2, lastError: null, deliveredAt: expect.any(String) });

    const key = await h.call<CallbackKeyView>(InvocationPatterns.CallbackKey, {});
    expect(key).toMatchObject({ algorithm: 'ed25519', publicKeyPem: expect.stringContaining('BEGIN PUBLIC KEY') });
    expect(JSON.stringify(key)).not.toMatch(/PRIVATE/);
    const { headers, body } = receiver.received.at(-1)!;
    expect(headers).toMatchObject({ 'content-type': 'application/json', 'x-invocation-id': invocationId, 'x-hks-status': 'succeeded' });
    const signed = Buffer.from(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`);
    const signature = Buffer.from(String(headers['webhook-signature']).replace(/^v1a,/, ''), 'base64');
    expect(verify(null, signed, createPublicKey(key.publicKeyPem), signature)).toBe(true);
    const fromRaw = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(key.publicKey, 'base64').toString('base64url') }, format: 'jwk' });
    expect(verify(null, signed, fromRaw, signature)).toBe(true);
    expect(verify(null, Buffer.from(`${invocationId}.0.${body}`), fromRaw, signature)).toBe(false);
    expect(JSON.parse(body) as InvocationCallbackBody).toMatchObject({
      invocationId,
      functionId: fn,
      status: 'succeeded',
      attempts: 1,
      value: { ok: true },
      error: null,
    });
  });

  it('sends the outcome after a redrive as a new webhook-id ({id}.2), and an earlier round’s delivery does not count for it', async () => {
    const fn = await deployed('async-callback-rounds', { retry: { ...FAST_RETRY, attempts: 1 } });
    h.invoker.answerInvoke(fn, handlerFailed);
    const { invocationId } = await accept(fn, { callbackUrl: receiver.url });
    const delivered = (round: number) =>
      waitFor(
        async () => {
          const row = await h.deployer!.get(InvocationStore).get(invocationId);
          return row?.callbackStatus === 'delivered' && row.callbackRound === round ? row : undefined;
        },
        { what: `callback round ${round} delivered` },
      );
    await delivered(1);
    await h.call(InvocationPatterns.Redrive, { id: invocationId });
    await delivered(2);
    const sent = receiver.received.filter((r) => r.headers['x-invocation-id'] === invocationId);
    expect(sent.map((r) => [r.headers['webhook-id'], r.headers['x-hks-status']])).toEqual([
      [invocationId, 'dead'],
      [`${invocationId}.2`, 'succeeded'],
    ]);
    const key = await h.call<CallbackKeyView>(InvocationPatterns.CallbackKey, {});
    const { headers, body } = sent[1];
    const signature = Buffer.from(String(headers['webhook-signature']).replace(/^v1a,/, ''), 'base64');
    expect(verify(null, Buffer.from(`${invocationId}.2.${headers['webhook-timestamp']}.${body}`), createPublicKey(key.publicKeyPem), signature)).toBe(true);

    // Round 3 pending (held an hour); a delivery of round 2 finishing late does not mark it delivered.
    const store = h.deployer!.get(InvocationStore);
    await store.repo.update({ id: invocationId }, { callbackStatus: 'pending', callbackRound: 3, callbackDueAt: new Date(Date.now() + 3_600_000) });
    await store.callbackDelivered(invocationId, 2);
    await store.callbackFailed(invocationId, 2, 'late', null);
    expect(await store.get(invocationId)).toMatchObject({ callbackStatus: 'pending', callbackRound: 3, callbackLastError: null });
    await store.callbackDelivered(invocationId, 3);
    expect(await store.get(invocationId)).toMatchObject({ callbackStatus: 'delivered' });
  });

  it('replays an asynchronous invocation with its stored request, as a new one that points back at it', async () => {
    const original = await get(succeededId);
    const replay = await h.call<AcceptedInvocation>(InvocationPatterns.Replay, { id: succeededId, version: 'original' });
    expect(replay.invocationId).not.toBe(succeededId);
    const done = await settled(replay.invocationId, 'succeeded');
    expect(done).toMatchObject({ source: 'replay', replayOf: succeededId, version: 1, request: original.request });
  });

  it('shows and replays a synchronous invocation from its events, and attaches the logs of each async attempt', async () => {
    const fn = await deployed('sync-recorded');
    const syncId = '11111111-2222-4333-8444-555555555555';
    eventStore.addInvocation({
      invocationId: syncId,
      functionId: fn,
      payload: { n: 5 },
      response: { doubled: 10 },
      processingTimeMs: 12,
      metadata: { trigger: 'api', version: 1, logs: 'doubling 5\n', statusCode: 200 },
    });
    const view = await get(syncId);
    expect(view).toMatchObject({ id: syncId, async: false, status: 'succeeded', functionId: fn, version: 1, maxAttempts: 1 });
    expect(view.attempts).toEqual([expect.objectContaining({ number: 1, outcome: 'succeeded', durationMs: 12, logs: 'doubling 5\n' })]);

    const replay = await h.call<AcceptedInvocation>(InvocationPatterns.Replay, { id: syncId });
    await settled(replay.invocationId, 'succeeded');
    expect(h.invoker.invocations(fn).at(-1)?.body).toEqual({ data: { n: 5 } });

    eventStore.addInvocation({ invocationId: replay.invocationId, functionId: fn, payload: { n: 5 }, metadata: { attempt: 1, logs: 'attempt one\n' } });
    expect((await get(replay.invocationId)).attempts[0].logs).toBe('attempt one\n');

    const cutId = '11111111-2222-4333-8444-666666666666';
    eventStore.addInvocation({
      invocationId: cutId,
      functionId: fn,
      payload: '{"big": "...\n...[truncated: 99999 characters in all]',
      metadata: { trigger: 'api' },
    });
    await expect(h.call(InvocationPatterns.Replay, { id: cutId })).rejects.toMatchObject({
      statusCode: 409,
      message: expect.stringContaining('stored request was cut'),
    });
    await expect(get('11111111-2222-4333-8444-777777777777')).rejects.toMatchObject({ statusCode: 404 });
  });

  it('sends an http-style request as stored: method, path after the function, query, headers and raw body', async () => {
    const fn = await deployed('async-http');
    const request: StoredRequest = {
      style: 'http',
      method: 'PUT',
      path: '/orders/7',
      query: 'a=1&b=2',
      headers: { 'content-type': 'text/plain', 'x-request-id': 'r-1' },
      body: Buffer.from('plain body').toString('base64'),
    };
    const { invocationId } = await accept(fn, { request, source: 'http' });
    await settled(invocationId, 'succeeded');
    const call = h.invoker.calls.find((c) => c.headers['x-hks-invocation-id'] === invocationId)!;
    expect(call).toMatchObject({ method: 'PUT', path: `/http/${fn}/orders/7`, body: 'plain body' });
    expect(call.headers).toMatchObject({ 'content-type': 'text/plain', 'x-request-id': 'r-1', 'x-hks-attempt': '1' });
  });

  it('runs no more attempts of a function at once than its instances take (maxInstances x concurrency)', async () => {
    const fn = await deployed('async-one-at-a-time', { scaling: { maxInstances: 1, concurrency: 1 } });
    const slow = { status: 200, body: { ok: true }, delayMs: 300 };
    h.invoker.answerInvoke(fn, slow, slow, slow);
    const ids = await Promise.all([1, 2, 3].map(async (i) => (await accept(fn, { request: dataRequest(i) })).invocationId));
    const runs = await Promise.all(ids.map(async (id) => (await settled(id, 'succeeded')).attempts[0]));
    const spans = runs.map((a) => [new Date(a.startedAt).getTime(), new Date(a.endedAt!).getTime()]).sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1] - 5);
  });

  it('refuses (409) to replay on the original version once another one is deployed, and replays on the current one', async () => {
    const fn = await deployed('async-versioned');
    const { invocationId } = await accept(fn);
    await settled(invocationId, 'succeeded');
    const entry = h.registry.functions.get(fn)!;
    entry.spec = { ...entry.spec!, version: 2 };
    await h.call(DeploymentPatterns.Deploy, { functionId: fn });
    // The deployer reads a function's deployment at most once a second.
    await new Promise((r) => setTimeout(r, 1_100));
    await expect(h.call(InvocationPatterns.Replay, { id: invocationId, version: 'original' })).rejects.toMatchObject({
      statusCode: 409,
      message: `invocation ${invocationId} ran version 1, and version 2 is deployed; deploy version 1 again, or replay on the current version`,
    });
    const replay = await h.call<AcceptedInvocation>(InvocationPatterns.Replay, { id: invocationId });
    expect(await settled(replay.invocationId, 'succeeded')).toMatchObject({ version: 2, replayOf: invocationId });
  });

  it('consumes the work queue again after the broker cancelled its consumer (the queue was deleted)', async () => {
    const fn = await deployed('async-queue-deleted');
    const name = h.deployer!.get(InvocationQueue).name;
    const conn = await amqplib.connect(AMQP_URL);
    try {
      const ch = await conn.createChannel();
      await ch.deleteQueue(name);
      // Declared again by the deployer's consumer, which consumes it again.
      await waitFor(
        async () => {
          const probe = await conn.createChannel();
          probe.on('error', () => undefined);
          const found = await probe.checkQueue(name).then(
            (q) => q.consumerCount > 0,
            () => false,
          );
          if (found) await probe.close();
          return found;
        },
        { what: 'the work queue consumed again' },
      );
    } finally {
      await conn.close();
    }
    const { invocationId } = await accept(fn);
    await settled(invocationId, 'succeeded');
  });

  it('hands an attempt whose deployer died to another deployer once its lease runs out', async () => {
    const fn = await deployed('async-survivor');
    h.invoker.answerInvoke(fn, { status: 200, body: { slow: true }, delayMs: 8_000 });
    const { invocationId } = await accept(fn);
    await waitFor(() => h.invoker.invocations(fn).length === 1, { what: 'the first attempt to start' });
    // SHUTDOWN_GRACE 0: the first deployer goes mid-attempt, recording nothing, like a killed one.
    await h.stopDeployer();
    await h.startDeployer();
    const done = await settled(invocationId, 'succeeded', 15_000);
    expect(done.attempts.map((a) => a.outcome)).toEqual(['interrupted', 'succeeded']);
    expect(done.attempts[0].error).toContain('its lease ended');
    expect(attemptsSent(fn)).toEqual(['1', '2']);
    expect(done.result?.body).toBe('{"ok":true}');
  });

  it('does not run again an attempt the invoker recorded after its deployer died: it ends as recorded (a tick runs once)', async () => {
    const fn = await deployed('async-recorded');
    h.invoker.answerInvoke(fn, { status: 200, body: { slow: true }, delayMs: 8_000 });
    const { invocationId } = await accept(fn);
    await waitFor(() => h.invoker.invocations(fn).length === 1, { what: 'the first attempt to start' });
    await h.stopDeployer();
    // What the invoker records when the attempt it kept running ends: its SUCCESS event, attempt 1.
    eventStore.addInvocation({
      invocationId,
      functionId: fn,
      response: { done: 'once' },
      processingTimeMs: 12,
      metadata: { attempt: 1, statusCode: 200, coldStart: false, startMs: null },
    });
    await h.startDeployer();
    const done = await settled(invocationId, 'succeeded', 15_000);
    expect(done.attempts.map((a) => a.outcome)).toEqual(['succeeded']);
    expect(attemptsSent(fn)).toEqual(['1']);
    expect(JSON.parse(done.result!.body)).toEqual({ done: 'once' });
  });
});

describe('asynchronous invocations while Postgres is cut off (TCP proxy), and their retention', () => {
  const h = new DeployerHarness();
  const pg = TcpProxy.forUrl(PG_ADMIN_URL);

  beforeAll(async () => {
    await pg.start();
    await h.start(
      {
        DEPLOYER_ASYNC_PUMP_INTERVAL_MS: '50',
        DEPLOYER_ASYNC_SHUTDOWN_GRACE_MS: '0',
        DEPLOYER_EVENT_STORE_TIMEOUT_MS: '200',
        DEPLOYER_ASYNC_RETENTION_MS: '3000',
      },
      {
        databaseUrl: (url) => {
          const through = new URL(url);
          through.port = String(pg.port);
          return through.toString();
        },
      },
    );
  });

  afterAll(async () => {
    pg.restore();
    await h.stop();
    await pg.stop();
  });

  it('keeps the outcome of an attempt that ended while the database was down, and records it once it is back', async () => {
    const spec = h.registry.addFunction('async-db-outage', { retry: FAST_RETRY });
    await h.call(DeploymentPatterns.Deploy, { functionId: spec.functionId });
    h.invoker.answerInvoke(spec.functionId, { status: 200, body: { survived: true }, delayMs: 500 });
    const { invocationId } = await h.call<AcceptedInvocation>(InvocationPatterns.Accept, {
      functionId: spec.functionId,
      request: dataRequest('x'),
      source: 'api',
    });
    await waitFor(() => h.invoker.invocations(spec.functionId).length === 1, { what: 'the attempt to start' });
    pg.cut();
    // The answer comes meanwhile; recording it fails until the database is back.
    await new Promise((r) => setTimeout(r, 1_500));
    pg.restore();
    const done = await waitFor(
      async () => {
        const v = await h.call<InvocationView>(InvocationPatterns.Get, { id: invocationId });
        return v.status === 'succeeded' ? v : undefined;
      },
      { what: 'the outcome recorded', timeoutMs: 20_000 },
    );
    expect(done.attempts).toEqual([expect.objectContaining({ number: 1, outcome: 'succeeded' })]);
    expect(done.result?.body).toBe('{"survived":true}');
    expect(h.invoker.invocations(spec.functionId)).toHaveLength(1);
  });

  it('removes finished invocations once DEPLOYER_ASYNC_RETENTION_MS has passed', async () => {
    const spec = h.registry.addFunction('async-retained', { retry: FAST_RETRY });
    await h.call(DeploymentPatterns.Deploy, { functionId: spec.functionId });
    const listed = () => h.call<InvocationPage>(InvocationPatterns.List, { functionId: spec.functionId });
    const { invocationId } = await h.call<AcceptedInvocation>(InvocationPatterns.Accept, {
      functionId: spec.functionId,
      request: dataRequest('kept for a while'),
      source: 'api',
    });
    await waitFor(async () => (await listed()).items[0]?.status === 'succeeded', { what: 'it to succeed' });
    expect((await listed()).items.map((i) => i.id)).toEqual([invocationId]);
    await waitFor(async () => (await listed()).items.length === 0, { what: 'it to be removed', timeoutMs: 15_000 });
  });
});

describe('a work queue the broker refuses', () => {
  it('stops the deployer’s start-up with the broker’s words instead of waiting forever', async () => {
    const h = new DeployerHarness();
    const ns = uniqueName('hkst');
    const conn = await amqplib.connect(AMQP_URL);
    const ch = await conn.createChannel();
    // Declared before, as a classic queue: the deployer's quorum declaration is refused.
    await ch.assertQueue(`${ns}.invocations.async`, { durable: true });
    try {
      await expect(h.start({ HKS_NAMESPACE: ns })).rejects.toThrow(`cannot consume the work queue "${ns}.invocations.async"`);
    } finally {
      await h.stop();
      await conn.close();
    }
  });
});
