import { AcceptedInvocation, DeploymentPatterns, InvocationPatterns, InvocationView, StoredRequest } from '@platform/contracts';
import { waitFor } from '@platform/testing';
import { DeployerHarness } from '../../test-fixtures/deployer-harness';

jest.setTimeout(90_000);

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

describe("a function's in-flight limit with two deployer replicas (real Postgres, RabbitMQ, Redis; HTTP invoker)", () => {
  const h = new DeployerHarness();
  const settings = { DEPLOYER_ASYNC_PUMP_INTERVAL_MS: '50', DEPLOYER_ASYNC_LEASE_MS: '3000', DEPLOYER_ASYNC_LEASE_RENEW_MS: '500' };
  const get = (id: string) => h.call<InvocationView>(InvocationPatterns.Get, { id });

  beforeAll(async () => {
    await h.start({ ...settings, DEPLOYER_INSTANCE_ID: 'deployer-a' });
    await h.startReplica({ ...settings, DEPLOYER_INSTANCE_ID: 'deployer-b' });
  }, 60_000);
  afterAll(() => h.stop(), 60_000);

  it('runs no more attempts at once than maxInstances x concurrency, both replicas together', async () => {
    const spec = h.registry.addFunction('one-at-a-time', { scaling: { maxInstances: 1, concurrency: 1 } });
    await h.call(DeploymentPatterns.Deploy, { functionId: spec.functionId });
    const slow = { status: 200, body: { ok: true }, delayMs: 500 };
    h.invoker.answerInvoke(spec.functionId, ...Array.from({ length: 6 }, () => slow));

    // Six at once: each replica's work queue consumer gets some; counted per replica, two would run at a time.
    const ids = await Promise.all(
      Array.from(
        { length: 6 },
        async (_, i) =>
          (await h.call<AcceptedInvocation>(InvocationPatterns.Accept, { functionId: spec.functionId, request: dataRequest(i), source: 'api' })).invocationId,
      ),
    );
    const views = await Promise.all(
      ids.map((id) =>
        waitFor(async () => ((await get(id)).status === 'succeeded' ? get(id) : undefined), { what: `invocation ${id} succeeded`, timeoutMs: 60_000 }),
      ),
    );
    expect(views.every((v) => v.attempts.length === 1)).toBe(true);
    const spans = views.map((v) => [new Date(v.attempts[0].startedAt).getTime(), new Date(v.attempts[0].endedAt!).getTime()]).sort((x, y) => x[0] - y[0]);
    // Each attempt starts once the one before it ended (the same database clock stamps both).
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1] - 5);
    expect(h.invoker.invocations(spec.functionId)).toHaveLength(6);
  });
});
