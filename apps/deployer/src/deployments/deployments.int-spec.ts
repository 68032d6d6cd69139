import { DeploymentPatterns, DeploymentView, FunctionStatus, InvokerDeployment } from '@platform/contracts';
import { waitFor } from '@platform/testing';
import { DataSource } from 'typeorm';
import { DeployerHarness } from '../../test-fixtures/deployer-harness';

describe('deployments over RPC (real Postgres, RabbitMQ, Redis; HTTP invoker; RPC registry)', () => {
  const h = new DeployerHarness();
  const deploy = (functionId: string) => h.call<DeploymentView>(DeploymentPatterns.Deploy, { functionId });
  const forFunction = (functionId: string) => h.call<InvokerDeployment>(DeploymentPatterns.GetForFunction, { functionId });

  beforeAll(() => h.start(), 60_000);
  afterAll(() => h.stop(), 60_000);

  it('deploys a built function to the invoker and answers READY', async () => {
    const spec = h.registry.addFunction('hello', { env: { GREETING: 'hi' }, secrets: [{ env: 'DB_PASSWORD', secret: 'db', key: 'password' }] });
    h.registry.secrets.set(spec.functionId, { DB_PASSWORD: 's3cr3t' });

    const view = await deploy(spec.functionId);

    expect(view).toMatchObject({ functionId: spec.functionId, label: 'hello', version: 1, driver: 'local', status: 'READY', reason: null });
    expect(view.bundleDigest).toBe(spec.bundleDigest);
    // The answer is what a user sees: the function's URL on the gateway, nothing internal.
    expect(view.url).toBe('/fn/hello');
    expect(Object.keys(view).sort()).toEqual([
      'bundleDigest',
      'createdAt',
      'driver',
      'functionId',
      'id',
      'image',
      'label',
      'reason',
      'status',
      'updatedAt',
      'url',
      'version',
    ]);
    expect(JSON.stringify(view)).not.toContain(h.invoker.url);
    // Invokers are told where the invocations go, with what runs.
    expect(await forFunction(spec.functionId)).toMatchObject({
      id: view.id,
      endpoint: `${h.invoker.url}/invoke/${spec.functionId}`,
      spec: { functionId: spec.functionId },
    });
    const [put] = h.invoker.deploymentCalls(spec.functionId);
    expect(put).toMatchObject({
      method: 'PUT',
      body: { deploymentId: view.id, spec: JSON.parse(JSON.stringify(spec)), env: { GREETING: 'hi', DB_PASSWORD: 's3cr3t' } },
    });
    expect(h.registry.statusesOf(spec.functionId)).toEqual([FunctionStatus.Deploying, FunctionStatus.Ready]);
    await waitFor(() => h.eventsOf(spec.functionId).includes('deployment.ready'), { what: 'deployment.ready' });
    expect(h.eventsOf(spec.functionId)).toEqual(['deployment.started', 'deployment.ready']);
    const ready = h.events.find((e) => e.name === 'deployment.ready' && e.functionId === spec.functionId)!;
    expect(ready).toMatchObject({ type: 'FUNCTION_DEPLOYMENT', status: 'SUCCESS', source: 'deployer', payload: { id: view.id, url: '/fn/hello' } });
    expect(ready.payload).not.toHaveProperty('spec');
    expect(JSON.stringify(ready)).not.toContain(h.invoker.url);
    expect(JSON.stringify(ready)).not.toContain('s3cr3t');
  });

  it('keeps no secret value in its table: invokers get it, read from the registry, with the names of the secret variables', async () => {
    const spec = h.registry.addFunction('secret-fn', { env: { MODE: 'x' }, secrets: [{ env: 'API_TOKEN', secret: 'api', key: 'token' }] });
    h.registry.secrets.set(spec.functionId, { API_TOKEN: 'tok-at-rest-check' });
    const view = await deploy(spec.functionId);
    const [put] = h.invoker.deploymentCalls(spec.functionId);
    expect(put.body).toMatchObject({ env: { MODE: 'x', API_TOKEN: 'tok-at-rest-check' }, secrets: ['API_TOKEN'] });
    const rows: unknown[] = await h.deployer!.get(DataSource).query(`SELECT * FROM "deployer"."deployments" WHERE "function_id" = $1`, [spec.functionId]);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain('tok-at-rest-check');
    expect(await forFunction(spec.functionId)).toMatchObject({ id: view.id, env: { MODE: 'x', API_TOKEN: 'tok-at-rest-check' }, secrets: ['API_TOKEN'] });
    const active = await h.call<InvokerDeployment[]>(DeploymentPatterns.ListActive, {});
    expect(active.find((d) => d.id === view.id)).toMatchObject({ env: { MODE: 'x', API_TOKEN: 'tok-at-rest-check' }, secrets: ['API_TOKEN'] });
    expect(view).not.toHaveProperty('env');
    expect(view).not.toHaveProperty('secrets');
  });

  it('tells invokers the deployment with its env, by id or label, and lists it as active', async () => {
    const spec = h.registry.addFunction('lookup-fn', { env: { A: '1' } });
    const view = await deploy('lookup-fn');
    expect(await forFunction(spec.functionId)).toMatchObject({ id: view.id, status: 'READY', env: { A: '1' } });
    expect(await forFunction('lookup-fn')).toMatchObject({ id: view.id, env: { A: '1' } });
    expect(await h.call(DeploymentPatterns.Get, { id: view.id })).toMatchObject({ id: view.id, functionId: spec.functionId });
    const active = await h.call<InvokerDeployment[]>(DeploymentPatterns.ListActive, {});
    expect(active.find((d) => d.id === view.id)).toMatchObject({ env: { A: '1' } });
    expect(await h.call<InvokerDeployment[]>(DeploymentPatterns.ListActive, { driver: 'knative' })).not.toContainEqual(
      expect.objectContaining({ id: view.id }),
    );
  });

  it('marks the deployment and the function FAILED with the invoker’s message when the invoker refuses', async () => {
    const spec = h.registry.addFunction('refused-fn');
    h.invoker.answerDeploy(spec.functionId, {
      status: 500,
      body: { statusCode: 500, error: 'Internal Server Error', message: 'could not unpack bundle sha256:abab: no space left' },
    });
    const view = await deploy(spec.functionId);
    expect(view).toMatchObject({ status: 'FAILED', reason: 'could not unpack bundle sha256:abab: no space left' });
    expect(h.registry.lastStatus(spec.functionId)).toMatchObject({
      status: FunctionStatus.Failed,
      reason: 'could not unpack bundle sha256:abab: no space left',
    });
    expect(await forFunction(spec.functionId)).toMatchObject({ status: 'FAILED' });
    await waitFor(() => h.eventsOf(spec.functionId).includes('deployment.failed'), { what: 'deployment.failed' });
    expect(h.events.find((e) => e.name === 'deployment.failed' && e.functionId === spec.functionId)).toMatchObject({ status: 'FAILURE', error: view.reason });
  });

  it('fails with "invoker at <url> is unreachable" when nothing answers there', async () => {
    const spec = h.registry.addFunction('unreachable-fn');
    const port = h.invoker.port;
    await h.invoker.stop();
    try {
      const view = await deploy(spec.functionId);
      expect(view).toMatchObject({ status: 'FAILED', reason: `invoker at ${h.invoker.url} is unreachable` });
      expect(h.registry.lastStatus(spec.functionId)?.status).toBe(FunctionStatus.Failed);
    } finally {
      await h.invoker.start(port);
    }
  });

  it('refuses a second deploy of a function while the first is still in progress', async () => {
    const spec = h.registry.addFunction('busy-fn');
    h.invoker.answerDeploy(spec.functionId, { status: 200, delayMs: 1_000 });
    const first = deploy(spec.functionId);
    await waitFor(() => h.invoker.deploymentCalls(spec.functionId).length === 1, { what: 'the first deploy to reach the invoker' });
    await expect(deploy(spec.functionId)).rejects.toMatchObject({
      statusCode: 409,
      message: expect.stringContaining('function busy-fn is already being deployed'),
    });
    await expect(first).resolves.toMatchObject({ status: 'READY' });
  });

  it('passes through 404 for an unknown function and 409 for one without a build, changing nothing', async () => {
    await expect(deploy('no-such-fn')).rejects.toMatchObject({ statusCode: 404, message: 'function no-such-fn does not exist' });
    const unbuilt = h.registry.addUnbuilt('unbuilt-fn');
    await expect(deploy(unbuilt)).rejects.toMatchObject({ statusCode: 409, message: 'function unbuilt-fn has no successful build; build it first' });
    expect(h.registry.statusesOf(unbuilt)).toEqual([]);
    await expect(forFunction(unbuilt)).rejects.toMatchObject({ statusCode: 404 });
  });

  it('replaces the previous deployment when the function is deployed again', async () => {
    const spec = h.registry.addFunction('redeployed-fn');
    const first = await deploy(spec.functionId);
    h.registry.functions.get(spec.functionId)!.spec = { ...spec, version: 2, bundleDigest: `sha256:${'12'.repeat(32)}` };
    const second = await deploy(spec.functionId);
    expect(second).toMatchObject({ status: 'READY', version: 2, bundleDigest: `sha256:${'12'.repeat(32)}` });
    expect(second.id).not.toBe(first.id);
    expect(await h.call(DeploymentPatterns.Get, { id: first.id })).toMatchObject({ status: 'DELETED', reason: `replaced by deployment ${second.id}` });
    expect(await forFunction(spec.functionId)).toMatchObject({ id: second.id });
    const active = await h.call<InvokerDeployment[]>(DeploymentPatterns.ListActive, {});
    expect(active.filter((d) => d.functionId === spec.functionId).map((d) => d.id)).toEqual([second.id]);
  });

  it('undeploys: the invoker drops it, the function is BUILT again and it is no longer found', async () => {
    const spec = h.registry.addFunction('undeployed-fn');
    const view = await deploy(spec.functionId);
    const gone = await h.call<DeploymentView>(DeploymentPatterns.Undeploy, { functionId: 'undeployed-fn' });
    expect(gone).toMatchObject({ id: view.id, status: 'DELETED', url: null, reason: 'undeployed' });
    expect(gone).not.toHaveProperty('spec');
    expect(h.invoker.deploymentCalls(spec.functionId).map((c) => c.method)).toEqual(['PUT', 'DELETE']);
    expect(h.registry.lastStatus(spec.functionId)?.status).toBe(FunctionStatus.Built);
    await expect(forFunction(spec.functionId)).rejects.toMatchObject({ statusCode: 404, message: `function ${spec.functionId} is not deployed` });
    await expect(h.call(DeploymentPatterns.Undeploy, { functionId: spec.functionId })).rejects.toMatchObject({ statusCode: 404 });
    await waitFor(() => h.eventsOf(spec.functionId).includes('deployment.deleted'), { what: 'deployment.deleted' });
  });

  it('removes the deployment when the function is deleted', async () => {
    const spec = h.registry.addFunction('deleted-fn');
    await deploy(spec.functionId);
    const statusesBefore = h.registry.statusesOf(spec.functionId).length;
    await h.functionDeleted(spec.functionId);
    await waitFor(() => h.invoker.deploymentCalls(spec.functionId).some((c) => c.method === 'DELETE'), { what: 'DELETE on the invoker' });
    await waitFor(
      () =>
        forFunction(spec.functionId).then(
          () => false,
          (e) => e.statusCode === 404,
        ),
      { what: 'deployment gone' },
    );
    expect(h.registry.statusesOf(spec.functionId).length).toBe(statusesBefore);
  });

  it('deploys to Knative when the function targets it, with the Service URL', async () => {
    const spec = h.registry.addFunction('kn-fn', { target: 'knative', secrets: [{ env: 'TOKEN', secret: 'api' }] });
    h.registry.secrets.set(spec.functionId, { TOKEN: 't0ken' });
    const view = await deploy(spec.functionId);
    expect(view).toMatchObject({ driver: 'knative', status: 'READY', url: '/fn/kn-fn' });
    expect((await forFunction(spec.functionId)).endpoint).toBe('http://kn-fn.functions.svc.cluster.local');
    expect(h.kube.object('functions', 'kn-fn')).toBeDefined();
    // The value the registry resolved for the version, in the version's own Kubernetes Secret; never in the Service.
    expect(h.kube.secretValues('functions', 'hks-fn-kn-fn-v1')).toEqual({ TOKEN: 't0ken' });
    expect(JSON.stringify(h.kube.object('functions', 'kn-fn'))).not.toContain('t0ken');
    expect(h.invoker.deploymentCalls(spec.functionId)).toEqual([]);
    expect((await forFunction(spec.functionId)).env).toBeUndefined();
    await h.call(DeploymentPatterns.Undeploy, { functionId: spec.functionId });
    expect(h.kube.object('functions', 'kn-fn')).toBeUndefined();
    expect(h.kube.secret('functions', 'hks-fn-kn-fn-v1')).toBeUndefined();
  });

  it('removes the function from the invoker when it moves to Knative', async () => {
    const spec = h.registry.addFunction('moving-fn');
    await deploy(spec.functionId);
    h.registry.functions.get(spec.functionId)!.spec = { ...spec, version: 2, config: { ...spec.config, target: 'knative' } };
    const moved = await deploy(spec.functionId);
    expect(moved).toMatchObject({ driver: 'knative', status: 'READY', version: 2 });
    expect(h.invoker.deploymentCalls(spec.functionId).map((c) => c.method)).toEqual(['PUT', 'DELETE']);
    await h.call(DeploymentPatterns.Undeploy, { functionId: spec.functionId });
  });

  it('fails a Knative deployment of a build without an image, saying what to configure', async () => {
    const spec = h.registry.addFunction('kn-no-image', { target: 'knative' }, { image: null });
    const view = await deploy(spec.functionId);
    expect(view).toMatchObject({ status: 'FAILED', reason: 'no OCI image: configure HKS_OCI_REGISTRY on the builder' });
    expect(h.registry.lastStatus(spec.functionId)).toMatchObject({ status: FunctionStatus.Failed, reason: view.reason });
  });

  it('marks FAILED, at start, a deployment a stopped deployer left DEPLOYING', async () => {
    const spec = h.registry.addFunction('interrupted-fn');
    const view = await deploy(spec.functionId);
    // As if the deployer had died mid-deploy long ago.
    await h
      .deployer!.get(DataSource)
      .query(`UPDATE deployer.deployments SET status = 'DEPLOYING', updated_at = now() - interval '1 day' WHERE id = $1`, [view.id]);
    await h.stopDeployer();
    await h.startDeployer();
    await waitFor(async () => (await forFunction(spec.functionId)).status === 'FAILED', { what: 'the interrupted deployment to be FAILED' });
    expect((await forFunction(spec.functionId)).reason).toBe('the deployer stopped while this deployment was in progress; deploy again');
    await waitFor(() => h.registry.lastStatus(spec.functionId)?.status === FunctionStatus.Failed, { what: 'the registry to hear it' });
  });

  it('answers 400 for a malformed request and 404 for an unknown deployment', async () => {
    await expect(h.call(DeploymentPatterns.Get, { id: 'nope' })).rejects.toMatchObject({ statusCode: 400, message: 'id must be a deployment id (a UUID)' });
    await expect(h.call(DeploymentPatterns.Get, { id: '00000000-0000-4000-8000-000000000000' })).rejects.toMatchObject({ statusCode: 404 });
    await expect(h.call(DeploymentPatterns.Deploy, {})).rejects.toMatchObject({ statusCode: 400 });
    await expect(h.call(DeploymentPatterns.ListActive, { driver: 'docker' })).rejects.toMatchObject({
      statusCode: 400,
      message: 'driver must be one of local, knative',
    });
  });
});
