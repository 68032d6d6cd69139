import { TopicPublisher } from '../sources/topic-publisher';
import { EventStoreClient } from './event-store.client';
import { FunctionPolicies } from './function-policy';
import { DeployerSettingsValues } from '../settings';
import { CallbackSender } from './callback-sender';
import { InvocationDispatcher } from './invocation-dispatcher';
import { InvocationPump } from './invocation-pump';
import { InvocationQueue } from './invocation-queue';
import { InvocationStore } from './invocation.store';

/** A store whose database is down until `up` is set; records when the pump looks for expired leases. */
function fakeStore() {
  const state = { up: false, leaseLookups: 0 };
  const em = {};
  const store = {
    transaction: (work: (e: unknown) => Promise<unknown>) => (state.up ? work(em) : Promise.reject(new Error('Connection terminated unexpectedly'))),
    markDueForDispatch: () => (state.up ? Promise.resolve({ due: [], markedAt: null }) : Promise.reject(new Error('Connection terminated unexpectedly'))),
    expiredLeases: () => {
      state.leaseLookups++;
      return Promise.resolve([]);
    },
    claimCallbacks: () => (state.up ? Promise.resolve([]) : Promise.reject(new Error('Connection terminated unexpectedly'))),
    removeFinished: () => Promise.resolve(0),
  };
  return { state, store: store as unknown as InvocationStore };
}

/** An event store with no record of any attempt: an expired lease is an interrupted attempt. */
const NO_EVENTS = { eventsOf: () => Promise.resolve([]) } as unknown as EventStoreClient;
const TOPICS = { finished: () => Promise.resolve() } as unknown as TopicPublisher;
const POLICIES = { of: () => Promise.resolve({ timeoutMs: 1_000 }) } as unknown as FunctionPolicies;

describe('the pump after losing the database', () => {
  it('waits one lease length before taking leases back, so deployers that could not renew may record their outcome first', async () => {
    const { state, store } = fakeStore();
    const settings = { DEPLOYER_ASYNC_LEASE_MS: 200, DEPLOYER_ASYNC_RETENTION_MS: 60_000 } as DeployerSettingsValues;
    const dispatcher = { runningIds: () => [] } as unknown as InvocationDispatcher;
    const queue = { messageCount: () => Promise.resolve(0) } as unknown as InvocationQueue;
    const pump = new InvocationPump(settings, store, queue, dispatcher, {} as CallbackSender, NO_EVENTS, POLICIES, TOPICS);
    await pump.tick();
    state.up = true;
    await pump.tick();
    expect(state.leaseLookups).toBe(0);
    await new Promise((r) => setTimeout(r, 250));
    await pump.tick();
    expect(state.leaseLookups).toBe(1);
  });
});

describe('the pump delivering callbacks', () => {
  it('claims no more callbacks than it has free delivery slots (64), so none waits past its hold', async () => {
    const limits: number[] = [];
    const never = new Promise<void>(() => undefined);
    const store = {
      markDueForDispatch: () => Promise.resolve({ due: [], markedAt: null }),
      transaction: () => Promise.resolve(),
      claimCallbacks: (_hold: number, limit: number) => {
        limits.push(limit);
        return Promise.resolve(Array.from({ length: Math.min(limit, 40) }, (_, i) => ({ id: `c-${limits.length}-${i}` })));
      },
      removeFinished: () => Promise.resolve(0),
    } as unknown as InvocationStore;
    const settings = { DEPLOYER_ASYNC_LEASE_MS: 200, DEPLOYER_ASYNC_RETENTION_MS: 60_000, DEPLOYER_CALLBACK_TIMEOUT_MS: 1000 } as DeployerSettingsValues;
    const callbacks = { deliver: () => never } as unknown as CallbackSender;
    const queue = { messageCount: () => Promise.resolve(0) } as unknown as InvocationQueue;
    const pump = new InvocationPump(
      settings,
      store,
      queue,
      { runningIds: () => [] } as unknown as InvocationDispatcher,
      callbacks,
      NO_EVENTS,
      POLICIES,
      TOPICS,
    );
    await pump.tick();
    await pump.tick();
    await pump.tick();
    expect(limits).toEqual([64, 24]);
  });

  it('fills a slot as soon as a delivery ends, not at the next round, and stops when none is due', async () => {
    const limits: number[] = [];
    let due = 100;
    const store = {
      markDueForDispatch: () => Promise.resolve({ due: [], markedAt: null }),
      transaction: () => Promise.resolve(),
      claimCallbacks: (_hold: number, limit: number) => {
        limits.push(limit);
        const n = Math.min(limit, due);
        due -= n;
        return Promise.resolve(Array.from({ length: n }, (_, i) => ({ id: `c-${limits.length}-${i}` })));
      },
      removeFinished: () => Promise.resolve(0),
    } as unknown as InvocationStore;
    const settings = {
      DEPLOYER_ASYNC_LEASE_MS: 200,
      DEPLOYER_ASYNC_RETENTION_MS: 60_000,
      DEPLOYER_CALLBACK_TIMEOUT_MS: 1000,
      DEPLOYER_ASYNC_PUMP_INTERVAL_MS: 60_000,
    } as DeployerSettingsValues;
    let delivered = 0;
    const callbacks = { deliver: () => new Promise<void>((r) => setTimeout(() => (delivered++, r()), 5)) } as unknown as CallbackSender;
    const queue = { messageCount: () => Promise.resolve(0) } as unknown as InvocationQueue;
    const pump = new InvocationPump(
      settings,
      store,
      queue,
      { runningIds: () => [] } as unknown as InvocationDispatcher,
      callbacks,
      NO_EVENTS,
      POLICIES,
      TOPICS,
    );
    pump.start();
    try {
      // One round only (the next is a minute away): the 100 go through the top-ups.
      for (let i = 0; i < 200 && delivered < 100; i++) await new Promise((r) => setTimeout(r, 10));
      expect(delivered).toBe(100);
      expect(limits[0]).toBe(64);
    } finally {
      await pump.stop();
    }
  });
});

describe('the pump handing due invocations to the work queue', () => {
  it('keeps the marks of those published and gives back only the marks of those that failed', async () => {
    const unmarked: unknown[][] = [];
    const store = {
      markDueForDispatch: () =>
        Promise.resolve({
          due: [
            { id: 'a', functionId: 'f' },
            { id: 'b', functionId: 'f' },
          ],
          markedAt: '2026-12-02 16:00:00.123456+00',
        }),
      unmarkDispatched: (...args: unknown[]) => (unmarked.push(args), Promise.resolve()),
      transaction: () => Promise.resolve(),
      claimCallbacks: () => Promise.resolve([]),
      removeFinished: () => Promise.resolve(0),
    } as unknown as InvocationStore;
    const queue = {
      messageCount: () => Promise.resolve(0),
      publish: (m: { id: string }) => (m.id === 'b' ? Promise.reject(new Error('channel closed')) : Promise.resolve()),
    } as unknown as InvocationQueue;
    const settings = { DEPLOYER_ASYNC_LEASE_MS: 200, DEPLOYER_ASYNC_RETENTION_MS: 60_000, DEPLOYER_CALLBACK_TIMEOUT_MS: 1000 } as DeployerSettingsValues;
    const pump = new InvocationPump(
      settings,
      store,
      queue,
      { runningIds: () => [] } as unknown as InvocationDispatcher,
      {} as CallbackSender,
      NO_EVENTS,
      POLICIES,
      TOPICS,
    );
    await pump.tick();
    expect(unmarked).toEqual([[['b'], '2026-12-02 16:00:00.123456+00']]);
  });
});

describe('the pump handing over again what the queue seems to have lost', () => {
  it('does so only while the work queue is empty: ids waiting behind a backlog are not duplicated', async () => {
    const asked: Array<number | null> = [];
    let ready = 5;
    const store = {
      markDueForDispatch: (redispatchAfterMs: number | null) => (asked.push(redispatchAfterMs), Promise.resolve({ due: [], markedAt: null })),
      transaction: () => Promise.resolve(),
      claimCallbacks: () => Promise.resolve([]),
      removeFinished: () => Promise.resolve(0),
    } as unknown as InvocationStore;
    const queue = { messageCount: () => Promise.resolve(ready) } as unknown as InvocationQueue;
    const settings = { DEPLOYER_ASYNC_LEASE_MS: 200, DEPLOYER_ASYNC_RETENTION_MS: 60_000, DEPLOYER_CALLBACK_TIMEOUT_MS: 1000 } as DeployerSettingsValues;
    const pump = new InvocationPump(
      settings,
      store,
      queue,
      { runningIds: () => [] } as unknown as InvocationDispatcher,
      {} as CallbackSender,
      NO_EVENTS,
      POLICIES,
      TOPICS,
    );
    await pump.tick();
    ready = 0;
    await pump.tick();
    expect(asked).toEqual([null, 60_000]);
  });
});

describe('the pump started again after a stop', () => {
  it('delivers callbacks with a signal that is not already aborted', async () => {
    const aborted: boolean[] = [];
    const store = {
      markDueForDispatch: () => Promise.resolve({ due: [], markedAt: null }),
      transaction: () => Promise.resolve(),
      claimCallbacks: () => Promise.resolve([{ id: 'c' }]),
      removeFinished: () => Promise.resolve(0),
    } as unknown as InvocationStore;
    const callbacks = { deliver: (_row: unknown, signal: AbortSignal) => (aborted.push(signal.aborted), Promise.resolve()) } as unknown as CallbackSender;
    const queue = { messageCount: () => Promise.resolve(0) } as unknown as InvocationQueue;
    const settings = {
      DEPLOYER_ASYNC_LEASE_MS: 200,
      DEPLOYER_ASYNC_RETENTION_MS: 60_000,
      DEPLOYER_CALLBACK_TIMEOUT_MS: 1000,
      DEPLOYER_ASYNC_PUMP_INTERVAL_MS: 10_000,
    } as DeployerSettingsValues;
    const pump = new InvocationPump(
      settings,
      store,
      queue,
      { runningIds: () => [] } as unknown as InvocationDispatcher,
      callbacks,
      NO_EVENTS,
      POLICIES,
      TOPICS,
    );
    pump.start();
    await new Promise((r) => setTimeout(r, 20));
    await pump.stop();
    pump.start();
    await new Promise((r) => setTimeout(r, 20));
    await pump.stop();
    // (This store always has one more due: each ended delivery claims the next one at once.)
    expect(aborted.length).toBeGreaterThanOrEqual(2);
    expect(aborted.filter((a) => a)).toEqual([]);
  });
});
