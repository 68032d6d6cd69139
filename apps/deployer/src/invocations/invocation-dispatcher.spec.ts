import { DeployerSettingsValues } from '../settings';
import { InvokerClient } from '../triggers/invoker.client';
import { FunctionPolicies, FunctionPolicy } from './function-policy';
import { InvocationDispatcher } from './invocation-dispatcher';
import { InvocationEntity } from './invocation.entity';
import { InvocationQueue } from './invocation-queue';
import { InvocationStore } from './invocation.store';

const settings = { DEPLOYER_ASYNC_LEASE_MS: 1000, DEPLOYER_ASYNC_LEASE_RENEW_MS: 100, DEPLOYER_ASYNC_SHUTDOWN_GRACE_MS: 0 } as DeployerSettingsValues;
const policy = { label: 'f', version: 1, timeoutMs: 1000, inFlightLimit: 10 } as FunctionPolicy;

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
    const dispatcher = new InvocationDispatcher(settings, store, queue, policies, invoker);

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
    const dispatcher = new InvocationDispatcher(settings, store, {} as InvocationQueue, policies, {} as InvokerClient);
    const t0 = Date.now();
    expect(await dispatcher.handle({ id: 'i-2', functionId: 'fn' })).toBe('requeue');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });
});
