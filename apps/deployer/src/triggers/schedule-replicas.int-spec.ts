import { DeploymentPatterns, DeploymentView } from '@platform/contracts';
import { waitFor } from '@platform/testing';
import { DeployerHarness } from '../../test-fixtures/deployer-harness';
import { RecordedCall } from '../../test-fixtures/fake-invoker';

/** The tick an invocation was for: its CloudEvent's time. */
const tickOf = (c: RecordedCall) => ((c.body as { data: { time: string } }).data.time as string) ?? '';

/** How many invocations each tick time got. */
function perTick(calls: RecordedCall[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of calls) counts.set(tickOf(c), (counts.get(tickOf(c)) ?? 0) + 1);
  return counts;
}

describe('schedule triggers with two deployer replicas (real Redis, Postgres, RabbitMQ; HTTP invoker)', () => {
  const h = new DeployerHarness();
  const deploy = (functionId: string) => h.call<DeploymentView>(DeploymentPatterns.Deploy, { functionId });
  const undeploy = (functionId: string) => h.call<DeploymentView>(DeploymentPatterns.Undeploy, { functionId });

  beforeAll(async () => {
    await h.start({ DEPLOYER_ASYNC_PUMP_INTERVAL_MS: '200', DEPLOYER_INSTANCE_ID: 'deployer-a' });
    await h.startReplica({ DEPLOYER_ASYNC_PUMP_INTERVAL_MS: '200', DEPLOYER_INSTANCE_ID: 'deployer-b' });
  }, 60_000);
  afterAll(() => h.stop(), 60_000);

  it('invokes each tick once while both run, and once a replica stops mid-schedule, the other runs every next tick once', async () => {
    const spec = h.registry.addFunction('every-second', { triggers: [{ type: 'schedule', cron: '* * * * * *', timezone: 'UTC' }] });
    expect(await deploy(spec.functionId)).toMatchObject({ status: 'READY' });
    const calls = () => h.invoker.invocations(spec.functionId);

    // About 5 s with both replicas taking jobs from the same scheduler.
    await waitFor(() => perTick(calls()).size >= 5, { what: 'five ticks with two replicas', timeoutMs: 30_000, intervalMs: 100 });
    // Replica A stops while ticks keep coming (its worker may hold the current one).
    const ticksBefore = perTick(calls()).size;
    await h.stopDeployer();
    await waitFor(() => perTick(calls()).size >= ticksBefore + 4, { what: 'four more ticks on replica B alone', timeoutMs: 30_000, intervalMs: 100 });

    await undeploy(spec.functionId);
    // Invocations accepted before the undeploy may still be dispatched: let them land before counting.
    await waitFor(
      async () => {
        const n = calls().length;
        await new Promise((r) => setTimeout(r, 1_500));
        return calls().length === n;
      },
      { what: 'no more invocations after the undeploy', timeoutMs: 30_000 },
    );

    const counts = perTick(calls());
    const twice = [...counts].filter(([, n]) => n !== 1);
    expect(twice).toEqual([]);
    // No tick skipped, across the stop of replica A: consecutive seconds from the first tick to the last.
    const times = [...counts.keys()].map((t) => Date.parse(t)).sort((a, b) => a - b);
    expect(times.every((t) => Number.isFinite(t) && t % 1000 === 0)).toBe(true);
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    expect(gaps.filter((g) => g !== 1000)).toEqual([]);
    expect(times.length).toBeGreaterThanOrEqual(9);
  }, 120_000);
});
