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
    dueForDispatch: () => Promise.resolve([]),
    expiredLeases: () => {
      state.leaseLookups++;
      return Promise.resolve([]);
    },
    claimCallbacks: () => (state.up ? Promise.resolve([]) : Promise.reject(new Error('Connection terminated unexpectedly'))),
    removeFinished: () => Promise.resolve(0),
  };
  return { state, store: store as unknown as InvocationStore };
}

describe('the pump after losing the database', () => {
  it('waits one lease length before taking leases back, so deployers that could not renew may record their outcome first', async () => {
    const { state, store } = fakeStore();
    const settings = { DEPLOYER_ASYNC_LEASE_MS: 200, DEPLOYER_ASYNC_RETENTION_MS: 60_000 } as DeployerSettingsValues;
    const dispatcher = { runningIds: () => [] } as unknown as InvocationDispatcher;
    const pump = new InvocationPump(settings, store, {} as InvocationQueue, dispatcher, {} as CallbackSender);
    await pump.tick();
    state.up = true;
    await pump.tick();
    expect(state.leaseLookups).toBe(0);
    await new Promise((r) => setTimeout(r, 250));
    await pump.tick();
    expect(state.leaseLookups).toBe(1);
  });
});
