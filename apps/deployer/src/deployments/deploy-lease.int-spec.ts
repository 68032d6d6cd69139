import { DeploymentPatterns, DeploymentView, FunctionStatus, InvokerDeployment } from '@platform/contracts';
import { waitFor } from '@platform/testing';
import { DeployerHarness } from '../../test-fixtures/deployer-harness';

const LEASE_MS = 2_000;

describe('the deploy lease: two deployer replicas, one of which dies mid-deploy (real Postgres, RabbitMQ, Redis)', () => {
  const h = new DeployerHarness();
  const deploy = (functionId: string) => h.call<DeploymentView>(DeploymentPatterns.Deploy, { functionId });
  const forFunction = (functionId: string) => h.call<InvokerDeployment>(DeploymentPatterns.GetForFunction, { functionId });
  const lease = { DEPLOYER_DEPLOY_LEASE_MS: String(LEASE_MS), DEPLOYER_DEPLOY_LEASE_RENEW_MS: '500' };

  beforeAll(() => h.start({ ...lease, DEPLOYER_INSTANCE_ID: 'deployer-a' }), 60_000);
  afterAll(() => h.stop(), 60_000);

  it('holds the lease while its deployer lives, and once it dies the other replica takes over within seconds', async () => {
    const spec = h.registry.addFunction('lease-fn');
    expect(await deploy(spec.functionId)).toMatchObject({ status: 'READY', version: 1 });
    h.registry.addVersion(spec.functionId);
    // Deployer A (the only one yet) starts deploying v2, and hangs at the invoker.
    h.invoker.answerDeploy(spec.functionId, { status: 200, delayMs: 120_000 });
    const hanging = deploy(spec.functionId).catch((err: unknown) => err);
    await waitFor(() => h.invoker.deploymentCalls(spec.functionId).length === 2, { what: 'the deploy of v2 to reach the invoker' });
    const inProgress = await forFunction(spec.functionId);
    expect(inProgress).toMatchObject({ status: 'DEPLOYING', version: 2 });

    // Replica B joins. Well past one lease length, A's heartbeat still holds the deployment: a second deploy is
    // refused (whichever replica takes the request) and B does not take it over.
    await h.startReplica({ ...lease, DEPLOYER_INSTANCE_ID: 'deployer-b' });
    const since = Date.now();
    await waitFor(() => Date.now() - since > 3 * LEASE_MS, { timeoutMs: 20_000, what: 'three lease lengths' });
    await expect(deploy(spec.functionId)).rejects.toMatchObject({
      statusCode: 409,
      message: expect.stringContaining('function lease-fn is already being deployed'),
    });
    expect(await forFunction(spec.functionId)).toMatchObject({ id: inProgress.id, status: 'DEPLOYING' });

    // A dies mid-deploy: its heartbeat stops. B takes the deployment over: v2 FAILED, v1 serves again.
    await h.stopDeployer();
    await waitFor(
      async () => {
        const now = await forFunction(spec.functionId);
        return now.status === 'READY' && now.version === 1;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'replica B to take over and put v1 back' },
    );
    await waitFor(() => h.registry.lastStatus(spec.functionId)?.status === FunctionStatus.Failed, { what: 'the registry to hear v2 failed' });
    expect(h.registry.lastStatus(spec.functionId)?.reason).toContain('the deployer stopped while this deployment was in progress; deploy again');
    // B told the invoker to run v1 again.
    const puts = h.invoker.deploymentCalls(spec.functionId).filter((c) => c.method === 'PUT');
    expect((puts[puts.length - 1].body as { spec: { version: number } }).spec.version).toBe(1);

    // And the function takes a new deploy at once.
    h.invoker.answerDeploy(spec.functionId);
    expect(await deploy(spec.functionId)).toMatchObject({ status: 'READY', version: 2 });
    void hanging;
  }, 120_000);
});
