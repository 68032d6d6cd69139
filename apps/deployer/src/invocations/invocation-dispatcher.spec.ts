import { TopicPublisher } from '../sources/topic-publisher';
import { DeployerSettingsValues } from '../settings';
import { InvokerClient } from '../triggers/invoker.client';
import { FunctionPolicies, FunctionPolicy } from './function-policy';
import { InvocationDispatcher } from './invocation-dispatcher';
import { InvocationEntity } from './invocation.entity';
import { InvocationQueue } from './invocation-queue';
import { AttemptEnd, InvocationStore } from './invocation.store';

const settings = { DEPLOYER_ASYNC_LEASE_MS: 1000, DEPLOYER_ASYNC_LEASE_RENEW_MS: 100, DEPLOYER_ASYNC_SHUTDOWN_GRACE_MS: 0 } as DeployerSettingsValues;
const policy = { label: 'f', version: 1, timeoutMs: 1000, inFlightLimit: 10 } as FunctionPolicy;

const TOPICS = { finished: () => Promise.resolve() } as unknown as TopicPublisher;

describe('the dispatcher stopping while it claims', () => {
  it('gives the claim back and holds the message instead of starting an attempt nobody would abort', async () => {
    let policyArrives!: (p: FunctionPolicy) => void;
    const policies = { of: () => new Promise<FunctionPolicy>((resolve) => (policyArrives = resolve)) } as unknown as FunctionPolicies;
    const row = { id: 'i-1', attempts: 1, attemptLog: [{ number: 1 }] } as InvocationEntity;
    const given: unknown[][] = [];
    const store = {
      claim: () => Promise.resolve(row),
      unclaim: (...args: unknown[]) => {
        given.push(args);
        return Promise.resolve(true);
      },
    } as unknown as InvocationStore;
    const calls: string[] = [];
    const invoker = { request: (method: string) => (calls.push(method), Promise.reject(new Error('not expected'))) } as unknown as InvokerClient;
    const queue = { stopConsuming: () => Promise.resolve() } as unknown as InvocationQueue;
    const dispatcher = new InvocationDispatcher(settings, store, queue, policies, invoker, TOPICS);

    const handled = dispatcher.handle({ id: 'i-1', functionId: 'fn' });
    await dispatcher.stop();
    policyArrives(policy);
    expect(await handled).toBe('hold');
    expect(given).toEqual([['i-1', 1, 1, dispatcher.owner]]);
    expect(calls).toEqual([]);
  });
});

describe('the dispatcher without its database', () => {
  it('puts the message back on the queue (after a pause) instead of acknowledging it', async () => {
    const policies = { of: () => Promise.resolve(policy) } as unknown as FunctionPolicies;
    const store = { claim: () => Promise.reject(new Error('Connection terminated unexpectedly')) } as unknown as InvocationStore;
    const dispatcher = new InvocationDispatcher(settings, store, {} as InvocationQueue, policies, {} as InvokerClient, TOPICS);
    const t0 = Date.now();
    expect(await dispatcher.handle({ id: 'i-2', functionId: 'fn' })).toBe('requeue');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });
});

describe('recording an attempt Postgres refuses', () => {
  const row = {
    id: 'i-3',
    functionId: 'fn',
    source: 'api',
    pinnedVersion: null,
    attempts: 1,
    maxAttempts: 3,
    retry: { attempts: 3, initialDelayMs: 10, maxDelayMs: 10, multiplier: 2, jitter: 'none', on: ['error'], maxAgeMs: 60_000 },
    attemptLog: [{ number: 1, outcome: null, startedAt: new Date().toISOString(), endedAt: null, durationMs: null, statusCode: null, error: null }],
    request: { style: 'data', method: 'POST', path: '/', query: '', headers: {}, body: '' },
    roundStartedAt: new Date(),
  } as unknown as InvocationEntity;

  function dispatcherWith(endAttempt: (e: AttemptEnd) => Promise<boolean>) {
    const store = { claim: () => Promise.resolve(row), endAttempt, renewLease: () => Promise.resolve(true) } as unknown as InvocationStore;
    const invoker = {
      request: () => Promise.resolve(new Response('ok', { status: 200, headers: { 'content-type': 'text/plain' } })),
    } as unknown as InvokerClient;
    return new InvocationDispatcher(
      settings,
      store,
      {} as InvocationQueue,
      { of: () => Promise.resolve(policy) } as unknown as FunctionPolicies,
      invoker,
      TOPICS,
    );
  }

  it('records it once more without the result, saying why, when refused as data (SQLSTATE class 22)', async () => {
    const ends: AttemptEnd[] = [];
    const dispatcher = dispatcherWith((e) => {
      ends.push(e);
      return ends.length === 1 ? Promise.reject(Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' })) : Promise.resolve(true);
    });
    expect(await dispatcher.handle({ id: 'i-3', functionId: 'fn' })).toBe('ack');
    expect(ends).toHaveLength(2);
    expect(ends[0].result).toMatchObject({ body: 'ok' });
    expect(ends[1]).toMatchObject({
      status: 'succeeded',
      result: null,
      error: expect.stringContaining('could not be stored: unsupported Unicode escape sequence'),
    });
  });

  it('gives up (the lease runs out) on any other refusal, and tries again while the connection is down', async () => {
    const refused: AttemptEnd[] = [];
    const undefinedTable = Object.assign(new Error('relation does not exist'), { code: '42P01' });
    expect(await dispatcherWith((e) => (refused.push(e), Promise.reject(undefinedTable))).handle({ id: 'i-3', functionId: 'fn' })).toBe('ack');
    expect(refused).toHaveLength(1);
    const tries: AttemptEnd[] = [];
    const down = dispatcherWith(
      (e) => (tries.push(e), tries.length < 3 ? Promise.reject(new Error('Connection terminated unexpectedly')) : Promise.resolve(true)),
    );
    expect(await down.handle({ id: 'i-3', functionId: 'fn' })).toBe('ack');
    expect(tries).toHaveLength(3);
  });
});
