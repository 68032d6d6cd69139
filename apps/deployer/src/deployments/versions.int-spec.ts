import { DeploymentPatterns, DeploymentView, FunctionStatus, InvokerDeployment, TrafficView } from '@platform/contracts';
import { DeployerHarness } from '../../test-fixtures/deployer-harness';

describe('versions of a deployment over RPC (real Postgres and RabbitMQ; HTTP invoker; RPC registry)', () => {
  const h = new DeployerHarness();
  const deploy = (functionId: string, version?: number) => h.call<DeploymentView>(DeploymentPatterns.Deploy, { functionId, ...(version ? { version } : {}) });
  const forFunction = (functionId: string) => h.call<InvokerDeployment>(DeploymentPatterns.GetForFunction, { functionId });
  const traffic = (functionId: string, body: unknown) => h.call<TrafficView>(DeploymentPatterns.SetTraffic, { functionId, traffic: body });

  beforeAll(() => h.start(), 60_000);
  afterAll(() => h.stop(), 60_000);

  it('keeps the version that serves when the deployment of a new one fails: it is READY again and the invoker is never told to drop it', async () => {
    const v1 = h.registry.addFunction('kept-fn');
    const first = await deploy(v1.functionId);
    h.registry.addVersion(v1.functionId);
    h.invoker.answerDeploy(v1.functionId, {
      status: 422,
      body: { statusCode: 422, error: 'Unprocessable Entity', message: 'function kept-fn cannot run: boom' },
    });
    const failed = await deploy(v1.functionId);
    expect(failed).toMatchObject({ status: 'FAILED', version: 2, reason: 'function kept-fn cannot run: boom; version 1 keeps serving' });
    expect(await forFunction(v1.functionId)).toMatchObject({ id: first.id, status: 'READY', version: 1 });
    const calls = h.invoker.deploymentCalls(v1.functionId);
    expect(calls.map((c) => c.method)).toEqual(['PUT', 'PUT', 'PUT']);
    // The last PUT puts version 1 back (a no-op on an invoker that still runs it).
    expect(calls[2].body).toMatchObject({ deploymentId: first.id, spec: { version: 1 } });
    expect(h.registry.lastStatus(v1.functionId)).toMatchObject({ status: FunctionStatus.Failed, version: 2 });
  });

  it('deploys a chosen version, and rolls back to the one that served before (or a named one); 409 with nothing to go back to', async () => {
    const v1 = h.registry.addFunction('rolled-fn');
    await expect(h.call(DeploymentPatterns.Rollback, { functionId: v1.functionId })).rejects.toMatchObject({ statusCode: 404 });
    await deploy(v1.functionId);
    await expect(h.call(DeploymentPatterns.Rollback, { functionId: 'rolled-fn' })).rejects.toMatchObject({
      statusCode: 409,
      message: 'function rolled-fn has served only version 1; there is no earlier version to roll back to',
    });
    h.registry.addVersion(v1.functionId);
    h.registry.addVersion(v1.functionId);
    expect(await deploy(v1.functionId)).toMatchObject({ status: 'READY', version: 3 });
    expect(await h.call(DeploymentPatterns.Rollback, { functionId: 'rolled-fn' })).toMatchObject({ status: 'READY', version: 1 });
    expect(await h.call(DeploymentPatterns.Rollback, { functionId: 'rolled-fn' })).toMatchObject({ status: 'READY', version: 3 });
    expect(await deploy(v1.functionId, 2)).toMatchObject({ status: 'READY', version: 2 });
    expect(await h.call(DeploymentPatterns.Rollback, { functionId: 'rolled-fn', to: 1 })).toMatchObject({ version: 1 });
    await expect(deploy(v1.functionId, 9)).rejects.toMatchObject({ statusCode: 404, message: 'function rolled-fn has no version 9' });
    await expect(h.call(DeploymentPatterns.Deploy, { functionId: 'rolled-fn', version: 0 })).rejects.toMatchObject({ statusCode: 400 });
  });

  it('starts the versions a split or an alias names on the invoker, with the routing, and stops those nothing names any more', async () => {
    const v1 = h.registry.addFunction('split-fn', { env: { A: '1' } });
    h.registry.addVersion(v1.functionId);
    const d = await deploy(v1.functionId);
    const set = await traffic(v1.functionId, {
      splits: [
        { version: 1, percent: 90 },
        { version: 2, percent: 10 },
      ],
      sticky: true,
    });
    expect(set).toMatchObject({ version: 2, versions: [1, 2], sticky: true, aliases: { latest: 2 }, revision: 1 });
    const put = h.invoker.deploymentCalls(v1.functionId).at(-1)!;
    expect(put.body).toMatchObject({
      deploymentId: d.id,
      spec: { version: 2 },
      versions: [{ spec: { version: 1 }, env: { A: '1' } }],
      routing: {
        splits: [
          { version: 1, percent: 90 },
          { version: 2, percent: 10 },
        ],
        sticky: true,
        revision: 1,
      },
    });
    expect(await forFunction(v1.functionId)).toMatchObject({ id: d.id, versions: [{ spec: { version: 1 } }], routing: { revision: 1 } });

    const aliased = await h.call<TrafficView>(DeploymentPatterns.SetAlias, { functionId: 'split-fn', alias: 'stable', version: 1 });
    expect(aliased).toMatchObject({ aliases: { latest: 2, stable: 1 }, revision: 2 });
    const back = await traffic('split-fn', { splits: [{ version: 2, percent: 100 }] });
    // Version 1 still runs: the alias names it.
    expect(back.versions).toEqual([1, 2]);
    const gone = await h.call<TrafficView>(DeploymentPatterns.DeleteAlias, { functionId: 'split-fn', alias: 'stable' });
    expect(gone.versions).toEqual([2]);
    expect((h.invoker.deploymentCalls(v1.functionId).at(-1)!.body as { versions?: unknown[] }).versions).toBeUndefined();
  });

  it('caps the aliases of a function at 32 (latest apart): a 33rd is a 409 that says so, moving or deleting one still works', async () => {
    const v1 = h.registry.addFunction('many-aliases-fn');
    h.registry.addVersion(v1.functionId);
    await deploy(v1.functionId);
    for (let i = 0; i < 32; i++) await h.call(DeploymentPatterns.SetAlias, { functionId: v1.functionId, alias: `a${i}`, version: 1 });
    await expect(h.call(DeploymentPatterns.SetAlias, { functionId: v1.functionId, alias: 'one-more', version: 1 })).rejects.toMatchObject({
      statusCode: 409,
      message:
        'function many-aliases-fn has 32 aliases already, the most a function may have (32 besides latest); ' +
        'delete one (DELETE /api/v1/functions/many-aliases-fn/aliases/{alias}) or move an existing one',
    });
    const moved = await h.call<TrafficView>(DeploymentPatterns.SetAlias, { functionId: v1.functionId, alias: 'a0', version: 2 });
    expect(Object.keys(moved.aliases)).toHaveLength(33);
    expect(moved.aliases).toMatchObject({ latest: 2, a0: 2, a31: 1 });
    await h.call(DeploymentPatterns.DeleteAlias, { functionId: v1.functionId, alias: 'a1' });
    expect((await h.call<TrafficView>(DeploymentPatterns.SetAlias, { functionId: v1.functionId, alias: 'one-more', version: 1 })).aliases['one-more']).toBe(1);
  }, 60_000);

  it("gives an older version (rolled back to, aliased or in a split) the secrets its own config names, not the current version's", async () => {
    const v1 = h.registry.addFunction('secret-versions-fn', { env: { MODE: 'one' }, secrets: [{ env: 'OLD_TOKEN', secret: 'old', key: 'token' }] });
    h.registry.secrets.set(v1.functionId, { OLD_TOKEN: 'old-value' });
    await deploy(v1.functionId);
    // Version 2 names another secret; the registry now resolves that one for the function's current version.
    h.registry.addVersion(v1.functionId, { config: { ...v1.config, env: { MODE: 'two' }, secrets: [{ env: 'NEW_TOKEN', secret: 'new', key: 'token' }] } });
    h.registry.secrets.set(v1.functionId, { NEW_TOKEN: 'new-value' });
    h.registry.versionSecrets.set(`${v1.functionId}@1`, { OLD_TOKEN: 'old-value' });
    expect(await deploy(v1.functionId)).toMatchObject({ status: 'READY', version: 2 });
    expect(await forFunction(v1.functionId)).toMatchObject({ version: 2, env: { MODE: 'two', NEW_TOKEN: 'new-value' }, secrets: ['NEW_TOKEN'] });

    await h.call<TrafficView>(DeploymentPatterns.SetAlias, { functionId: v1.functionId, alias: 'stable', version: 1 });
    const aliased = await forFunction(v1.functionId);
    expect(aliased.versions).toEqual([
      expect.objectContaining({ spec: expect.objectContaining({ version: 1 }), env: { MODE: 'one', OLD_TOKEN: 'old-value' }, secrets: ['OLD_TOKEN'] }),
    ]);
    const put = h.invoker.deploymentCalls(v1.functionId).at(-1)!.body as { versions: Array<{ env: Record<string, string> }> };
    expect(put.versions[0].env).toEqual({ MODE: 'one', OLD_TOKEN: 'old-value' });

    expect(await h.call(DeploymentPatterns.Rollback, { functionId: v1.functionId })).toMatchObject({ status: 'READY', version: 1 });
    const rolled = await forFunction(v1.functionId);
    expect(rolled).toMatchObject({ version: 1, env: { MODE: 'one', OLD_TOKEN: 'old-value' }, secrets: ['OLD_TOKEN'] });
    expect(rolled.env).not.toHaveProperty('NEW_TOKEN');
    expect(h.invoker.deploymentCalls(v1.functionId).at(-1)!.body).toMatchObject({ spec: { version: 1 }, env: { MODE: 'one', OLD_TOKEN: 'old-value' } });
  });

  it('refuses bad splits, aliases and canaries with a 4xx that says why, changing nothing', async () => {
    const v1 = h.registry.addFunction('strict-fn');
    await deploy(v1.functionId);
    const refused = async (pattern: string, payload: unknown, statusCode: number, message: string) =>
      expect(h.call(pattern, payload)).rejects.toMatchObject({ statusCode, message });
    const t = (traffic: unknown) => ({ functionId: 'strict-fn', traffic });
    await refused(DeploymentPatterns.SetTraffic, t({ splits: [{ version: 1, percent: 60 }] }), 400, "the split's percentages sum to 60; they must sum to 100");
    await refused(
      DeploymentPatterns.SetTraffic,
      t({
        splits: [
          { version: 1, percent: 50 },
          { version: 1, percent: 50 },
        ],
      }),
      400,
      'version 1 appears twice in splits',
    );
    await refused(
      DeploymentPatterns.SetTraffic,
      t({ splits: [{ version: 1, percent: 101 }] }),
      400,
      'each split needs a percent: a whole number from 0 to 100',
    );
    await refused(
      DeploymentPatterns.SetTraffic,
      t({}),
      400,
      'send splits ([{version, percent}, ...]) or a canary ({version, steps, intervalSeconds, maxErrorRate})',
    );
    await refused(
      DeploymentPatterns.SetTraffic,
      t({
        splits: [
          { version: 1, percent: 50 },
          { version: 7, percent: 50 },
        ],
      }),
      404,
      'function strict-fn has no version 7',
    );
    await refused(DeploymentPatterns.SetTraffic, t({ canary: { version: 1 } }), 400, 'version 1 is already deployed; a canary needs another version');
    h.registry.addVersion(v1.functionId);
    await refused(
      DeploymentPatterns.SetTraffic,
      t({ canary: { version: 2, steps: [50, 20, 100] } }),
      400,
      'canary.steps must rise: 20 after 50 (e.g. [10, 25, 50, 100])',
    );
    await refused(
      DeploymentPatterns.SetTraffic,
      t({ canary: { version: 2, steps: [10, 50] } }),
      400,
      'canary.steps must end at 100 (the canary then takes all traffic)',
    );
    await refused(DeploymentPatterns.SetAlias, { functionId: 'strict-fn', alias: 'Stable!', version: 1 }, 400, expect.stringContaining('a DNS-1035 label'));
    await refused(
      DeploymentPatterns.SetAlias,
      { functionId: 'strict-fn', alias: 'v2', version: 1 },
      400,
      '"v2" looks like a version tag (v{n}); pick another alias',
    );
    await refused(DeploymentPatterns.DeleteAlias, { functionId: 'strict-fn', alias: 'nope' }, 404, 'function strict-fn has no alias "nope"');
    await refused(
      DeploymentPatterns.SetAlias,
      { functionId: 'strict-fn', alias: 'big', version: 2 ** 31 },
      400,
      'version must be a whole number from 1 to 2147483647',
    );
    expect(await h.call<TrafficView>(DeploymentPatterns.GetTraffic, { functionId: 'strict-fn' })).toMatchObject({
      revision: 0,
      splits: [{ version: 1, percent: 100 }],
    });

    const canary = await traffic('strict-fn', { canary: { version: 2, steps: [10, 100], intervalSeconds: 30 } });
    expect(canary).toMatchObject({
      splits: [
        { version: 1, percent: 90 },
        { version: 2, percent: 10 },
      ],
      canary: { version: 2, baseline: 1, step: 0, state: 'RUNNING', maxErrorRate: 0.1, minInvocations: 5 },
    });
  });
});
