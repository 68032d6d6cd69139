import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { FakeKubeApi } from '../../../test-fixtures/fake-kube-api';
import { runtimeSpec } from '../../../test-fixtures/runtime-spec';
import { DeployerSettingsValues } from '../../settings';
import { DeploymentFailure } from '../driver';
import { KnativeDriver } from './knative.driver';

const NS = 'functions';

describe('the knative driver against a Kubernetes API server', () => {
  const api = new FakeKubeApi();
  let dir: string;
  let kubeconfig: string;

  const driver = (overrides: Partial<DeployerSettingsValues> = {}) =>
    new KnativeDriver({ KUBECONFIG: kubeconfig, KNATIVE_NAMESPACE: NS, KNATIVE_READY_TIMEOUT_MS: 10_000, ...overrides } as DeployerSettingsValues);

  beforeAll(async () => {
    await api.start();
    dir = mkdtempSync(path.join(tmpdir(), 'hks-kube-'));
    kubeconfig = api.writeKubeconfig(dir);
  });

  afterAll(async () => {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the Service, watches it to Ready and answers its URL', async () => {
    const spec = runtimeSpec({ label: 'created-fn' }, { env: { MODE: 'x' }, scaling: { minInstances: 1 } });
    const result = await driver().deploy({ deploymentId: 'd-1', spec, env: {} });
    expect(result).toEqual({ url: `http://created-fn.${NS}.svc.cluster.local` });
    const stored = api.object(NS, 'created-fn')!;
    expect(stored.metadata.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'hks',
      'hks.dev/function-id': spec.functionId,
      'networking.knative.dev/visibility': 'cluster-local',
    });
    expect(api.requests.some((r) => r.method === 'GET' && r.path.includes('watch=true') && r.path.includes('metadata.name%3Dcreated-fn'))).toBe(true);
  });

  it('replaces an existing Service with its current resourceVersion and waits for the new generation', async () => {
    const spec = runtimeSpec({ label: 'updated-fn' });
    await driver().deploy({ deploymentId: 'd-1', spec, env: {} });
    const before = api.object(NS, 'updated-fn')!;
    const next = { ...spec, version: 2, image: `127.0.0.1:5000/hks/updated-fn@sha256:${'ef'.repeat(32)}` };
    await expect(driver().deploy({ deploymentId: 'd-2', spec: next, env: {} })).resolves.toEqual({ url: `http://updated-fn.${NS}.svc.cluster.local` });
    const after = api.object(NS, 'updated-fn')!;
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(after.metadata.generation).toBe(2);
    expect((after.status as { observedGeneration: number }).observedGeneration).toBe(2);
    const put = api.requests.filter((r) => r.method === 'PUT' && r.path.endsWith('/updated-fn'));
    expect(put).toHaveLength(1);
    expect(put[0].body?.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it('keeps annotations Knative added when it replaces the Service', async () => {
    const spec = runtimeSpec({ label: 'annotated-fn' });
    await driver().deploy({ deploymentId: 'd-1', spec, env: {} });
    const current = api.object(NS, 'annotated-fn')!;
    api.put({
      ...current,
      metadata: {
        ...current.metadata,
        annotations: { ...(current.metadata.annotations as object), 'serving.knative.dev/creator': 'system:serviceaccount:hks:deployer' },
      },
    });
    await driver().deploy({ deploymentId: 'd-2', spec: { ...spec, version: 2 }, env: {} });
    expect(api.object(NS, 'annotated-fn')!.metadata.annotations).toMatchObject({
      'serving.knative.dev/creator': 'system:serviceaccount:hks:deployer',
      'hks.dev/deployment-id': 'd-2',
    });
  });

  it('reads the Service again and retries when someone else changed it in between (409 Conflict)', async () => {
    const spec = runtimeSpec({ label: 'contended-fn' });
    await driver().deploy({ deploymentId: 'd-1', spec, env: {} });
    api.beforeReplace = (current) => api.put({ ...current, metadata: { ...current.metadata, labels: { ...(current.metadata.labels as object), team: 'b' } } });
    const requestsBefore = api.requests.length;
    await driver().deploy({ deploymentId: 'd-2', spec: { ...spec, config: { ...spec.config, env: { CHANGED: '1' } } }, env: {} });
    const puts = api.requests.slice(requestsBefore).filter((r) => r.method === 'PUT');
    expect(puts).toHaveLength(2);
    const stored = api.object(NS, 'contended-fn')! as unknown as { spec: { template: { spec: { containers: Array<{ env: unknown }> } } } };
    expect(stored.spec.template.spec.containers[0].env).toEqual([{ name: 'CHANGED', value: '1' }]);
  });

  it.each([
    ['RevisionMissing', 'Configuration "failing-fn" does not have any ready Revision.'],
    ['ContainerMissing', 'Unable to fetch image "127.0.0.1:5000/hks/x": manifest unknown'],
  ])('fails with the Ready=False reason %s and its message', async (reason, message) => {
    const label = `failing-${reason.toLowerCase()}`;
    api.setOutcome(label, { kind: 'fail', afterMs: 100, reason, message });
    const attempt = driver().deploy({ deploymentId: 'd', spec: runtimeSpec({ label }), env: {} });
    await expect(attempt).rejects.toBeInstanceOf(DeploymentFailure);
    await expect(attempt).rejects.toThrow(`Knative Service ${label} is not ready: ${reason}: ${message}`);
  });

  it('gives up after KNATIVE_READY_TIMEOUT_MS, naming the last condition', async () => {
    api.setOutcome('slow-fn', { kind: 'stuck', afterMs: 50 });
    await expect(driver({ KNATIVE_READY_TIMEOUT_MS: 700 }).deploy({ deploymentId: 'd', spec: runtimeSpec({ label: 'slow-fn' }), env: {} })).rejects.toThrow(
      'Knative Service slow-fn did not become Ready within 700 ms (last: RevisionMissing: Configuration "slow-fn" is waiting for a Revision to become ready.)',
    );
  });

  it('falls back to reading the Service when it may not watch it', async () => {
    api.forbidWatch = true;
    try {
      await expect(driver().deploy({ deploymentId: 'd', spec: runtimeSpec({ label: 'unwatched-fn' }), env: {} })).resolves.toEqual({
        url: `http://unwatched-fn.${NS}.svc.cluster.local`,
      });
    } finally {
      api.forbidWatch = false;
    }
  });

  it('refuses a build without an OCI image, before calling Kubernetes', async () => {
    const before = api.requests.length;
    await expect(driver().deploy({ deploymentId: 'd', spec: runtimeSpec({ label: 'no-image', image: null }), env: {} })).rejects.toThrow(
      'no OCI image: configure HKS_OCI_REGISTRY on the builder',
    );
    expect(api.requests.length).toBe(before);
  });

  it('does not take over a Knative Service that hks does not manage', async () => {
    api.put({ apiVersion: 'serving.knative.dev/v1', kind: 'Service', metadata: { name: 'someone-else', namespace: NS }, spec: {} });
    await expect(driver().deploy({ deploymentId: 'd', spec: runtimeSpec({ label: 'someone-else' }), env: {} })).rejects.toThrow(
      'a Knative Service named someone-else already exists in namespace functions and is not managed by hks',
    );
  });

  it('deletes the Service, and succeeds when it is already gone', async () => {
    const spec = runtimeSpec({ label: 'deleted-fn' });
    await driver().deploy({ deploymentId: 'd', spec, env: {} });
    await driver().remove(spec);
    expect(api.object(NS, 'deleted-fn')).toBeUndefined();
    await expect(driver().remove(spec)).resolves.toBeUndefined();
  });

  it('leaves alone a Service of the same name that belongs to another function', async () => {
    const spec = runtimeSpec({ label: 'shared-name' });
    await driver().deploy({ deploymentId: 'd', spec, env: {} });
    await driver().remove({ functionId: runtimeSpec().functionId, label: 'shared-name' });
    expect(api.object(NS, 'shared-name')).toBeDefined();
  });

  describe('secrets', () => {
    const withSecrets = (label: string, version = 1) =>
      runtimeSpec(
        { label, version },
        {
          env: { MODE: 'x' },
          secrets: [
            { env: 'DB_PASSWORD', secret: 'db', key: 'password' },
            { env: 'TOKEN', secret: 'api' },
          ],
        },
      );
    const values = (db: string) => ({ env: { MODE: 'x', DB_PASSWORD: db, TOKEN: 't0ken' }, secrets: ['DB_PASSWORD', 'TOKEN'] });
    type Stored = {
      metadata: { uid: string; generation: number };
      spec: { template: { metadata: { name?: string; annotations: Record<string, string> }; spec: { containers: Array<{ env: unknown[] }> } } };
    };
    const service = (name: string) => api.object(NS, name) as unknown as Stored;

    it('writes one Secret per version with exactly the values its config names, owned by the Service, which references it', async () => {
      const spec = withSecrets('secret-fn');
      await driver().deploy({ deploymentId: 'd-1', spec, ...values('hunter2') });
      const secret = api.secret(NS, 'hks-fn-secret-fn-v1')!;
      expect(api.secretValues(NS, 'hks-fn-secret-fn-v1')).toEqual({ DB_PASSWORD: 'hunter2', TOKEN: 't0ken' });
      expect(secret.type).toBe('Opaque');
      expect(secret.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'hks', 'hks.dev/function-id': spec.functionId, 'hks.dev/version': '1' });
      const svc = service('secret-fn');
      expect(secret.metadata.ownerReferences).toEqual([{ apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'secret-fn', uid: svc.metadata.uid }]);
      expect(svc.spec.template.spec.containers[0].env).toEqual(
        expect.arrayContaining([
          { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'hks-fn-secret-fn-v1', key: 'DB_PASSWORD' } } },
          { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'hks-fn-secret-fn-v1', key: 'TOKEN' } } },
        ]),
      );
      expect(svc.spec.template.metadata.annotations['hks.dev/secrets-digest']).toMatch(/^[0-9a-f]{32}$/);
      // Values only in the Secret: not in the Service, nor in any request but the Secret's own writes.
      expect(JSON.stringify(svc)).not.toContain('hunter2');
      expect(
        api.requests.filter((r) => JSON.stringify(r.body ?? '').includes(Buffer.from('hunter2').toString('base64'))).every((r) => r.path.includes('/secrets')),
      ).toBe(true);
    });

    it('makes a new revision when a value is rotated, and none when the same values are deployed again', async () => {
      const spec = withSecrets('rotated-fn');
      await driver().deploy({ deploymentId: 'd-1', spec, ...values('old') });
      const before = service('rotated-fn');
      await driver().deploy({ deploymentId: 'd-2', spec, ...values('old') });
      expect(service('rotated-fn').metadata.generation).toBe(before.metadata.generation);
      await driver().deploy({ deploymentId: 'd-3', spec, ...values('new') });
      const after = service('rotated-fn');
      expect(api.secretValues(NS, 'hks-fn-rotated-fn-v1')).toEqual({ DB_PASSWORD: 'new', TOKEN: 't0ken' });
      expect(after.metadata.generation).toBe(before.metadata.generation + 1);
      expect(after.spec.template.metadata.annotations['hks.dev/secrets-digest']).not.toBe(before.spec.template.metadata.annotations['hks.dev/secrets-digest']);
      // Knative refuses a changed template under the same revision name: the rotated one has a name of its own.
      expect(before.spec.template.metadata.name).toBe('rotated-fn-v1');
      expect(after.spec.template.metadata.name).toMatch(/^rotated-fn-v1-[0-9a-f]{5}$/);
      expect(JSON.stringify(after)).not.toContain('new"');
    });

    it('leaves the Secrets as they were when a deploy fails: a new one removed, a changed one back to its values', async () => {
      api.setOutcome('failed-secret-fn', { kind: 'fail', afterMs: 100, reason: 'RevisionFailed', message: 'boom' });
      await expect(driver().deploy({ deploymentId: 'd', spec: withSecrets('failed-secret-fn'), ...values('x') })).rejects.toThrow('RevisionFailed: boom');
      expect(api.secret(NS, 'hks-fn-failed-secret-fn-v1')).toBeUndefined();

      const spec = withSecrets('undone-fn');
      await driver().deploy({ deploymentId: 'd-1', spec, ...values('kept') });
      api.setOutcome('undone-fn', { kind: 'fail', afterMs: 100, reason: 'RevisionFailed', message: 'boom' });
      await expect(driver().deploy({ deploymentId: 'd-2', spec, ...values('changed') })).rejects.toThrow(DeploymentFailure);
      expect(api.secretValues(NS, 'hks-fn-undone-fn-v1')).toEqual({ DB_PASSWORD: 'kept', TOKEN: 't0ken' });
      api.setOutcome('undone-fn', { kind: 'ready', afterMs: 50 });
    });

    it('writes no Service when a Secret cannot be written, and removes the Secrets it wrote before', async () => {
      const v1 = withSecrets('half-fn', 1);
      const v2 = { ...withSecrets('half-fn', 2), functionId: v1.functionId };
      api.failSecretWrite = (_m, body) => (body?.metadata.name === 'hks-fn-half-fn-v1' ? 500 : undefined);
      try {
        await expect(
          driver().deploy({
            deploymentId: 'd',
            spec: v2,
            ...values('a'),
            versions: [{ spec: v1, ...values('b') }],
            routing: { aliases: { stable: 1 }, splits: null, sticky: false, revision: 1 },
          }),
        ).rejects.toThrow(/could not write Secret hks-fn-half-fn-v1: Kubernetes API answered 500/);
      } finally {
        api.failSecretWrite = undefined;
      }
      expect(api.secretsIn(NS).filter((s) => s.metadata.name.startsWith('hks-fn-half-fn'))).toEqual([]);
      expect(api.object(NS, 'half-fn')).toBeUndefined();
    });

    it("keeps each running version's Secret, and removes those of versions that no longer run", async () => {
      const v1 = withSecrets('versions-fn', 1);
      const v2 = { ...withSecrets('versions-fn', 2), functionId: v1.functionId };
      await driver().deploy({ deploymentId: 'd-1', spec: v1, ...values('one') });
      await driver().deploy({
        deploymentId: 'd-2',
        spec: v2,
        ...values('two'),
        versions: [{ spec: v1, ...values('one') }],
        routing: { aliases: { stable: 1 }, splits: null, sticky: false, revision: 2 },
      });
      expect(api.secretValues(NS, 'hks-fn-versions-fn-v1')).toEqual({ DB_PASSWORD: 'one', TOKEN: 't0ken' });
      expect(api.secretValues(NS, 'hks-fn-versions-fn-v2')).toEqual({ DB_PASSWORD: 'two', TOKEN: 't0ken' });
      await driver().deploy({ deploymentId: 'd-3', spec: v2, ...values('two') });
      expect(api.secret(NS, 'hks-fn-versions-fn-v1')).toBeUndefined();
      expect(api.secret(NS, 'hks-fn-versions-fn-v2')).toBeDefined();
    });

    it("removes the function's Secrets with its Service, and also when the Service is gone already", async () => {
      const spec = withSecrets('removed-fn');
      await driver().deploy({ deploymentId: 'd', spec, ...values('x') });
      await driver().remove(spec);
      expect(api.object(NS, 'removed-fn')).toBeUndefined();
      expect(api.secret(NS, 'hks-fn-removed-fn-v1')).toBeUndefined();
      api.putSecret({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          ...api.secretsIn(NS)[0]?.metadata,
          name: 'hks-fn-removed-fn-v7',
          namespace: NS,
          labels: { 'app.kubernetes.io/managed-by': 'hks', 'hks.dev/function-id': spec.functionId },
        },
        data: {},
      });
      await driver().remove(spec);
      expect(api.secret(NS, 'hks-fn-removed-fn-v7')).toBeUndefined();
    });

    it('refuses to take over a Secret of the same name that belongs to another function', async () => {
      api.putSecret({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hks-fn-taken-fn-v1', namespace: NS }, type: 'Opaque', data: { A: 'Yg==' } });
      await expect(driver().deploy({ deploymentId: 'd', spec: withSecrets('taken-fn'), ...values('x') })).rejects.toThrow(
        'a Secret named hks-fn-taken-fn-v1 already exists in namespace functions and does not belong to taken-fn',
      );
      expect(api.secretValues(NS, 'hks-fn-taken-fn-v1')).toEqual({ A: 'b' });
      expect(api.object(NS, 'taken-fn')).toBeUndefined();
    });
  });

  describe('the registry pull secret', () => {
    const oci = { HKS_OCI_REGISTRY: '127.0.0.1:5000', HKS_OCI_USERNAME: 'robot', HKS_OCI_PASSWORD: 'pa55' };

    it('is created from HKS_OCI_USERNAME/PASSWORD, kept up to date, and named in imagePullSecrets of Services whose image is in HKS_OCI_REGISTRY', async () => {
      await driver(oci).deploy({ deploymentId: 'd', spec: runtimeSpec({ label: 'pulled-fn' }), env: {} });
      const secret = api.secret(NS, 'hks-registry-pull')!;
      expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
      const config = JSON.parse(api.secretValues(NS, 'hks-registry-pull')!['.dockerconfigjson']);
      expect(config.auths['127.0.0.1:5000']).toEqual({ username: 'robot', password: 'pa55', auth: Buffer.from('robot:pa55').toString('base64') });
      const svc = api.object(NS, 'pulled-fn') as unknown as { spec: { template: { spec: { imagePullSecrets?: unknown } } } };
      expect(svc.spec.template.spec.imagePullSecrets).toEqual([{ name: 'hks-registry-pull' }]);
      expect(JSON.stringify(svc)).not.toContain('pa55');

      await driver({ ...oci, HKS_OCI_PASSWORD: 'rotated' }).deploy({ deploymentId: 'd', spec: runtimeSpec({ label: 'pulled-2' }), env: {} });
      expect(JSON.parse(api.secretValues(NS, 'hks-registry-pull')!['.dockerconfigjson']).auths['127.0.0.1:5000'].password).toBe('rotated');
    });

    it('is not named for an image from another registry, nor without credentials', async () => {
      const own = runtimeSpec({ label: 'foreign-fn', runtime: 'image', image: `registry.example.com/team/x@sha256:${'ef'.repeat(32)}` });
      await driver(oci).deploy({ deploymentId: 'd', spec: own, env: {} });
      await driver({ HKS_OCI_REGISTRY: '127.0.0.1:5000' }).deploy({ deploymentId: 'd', spec: runtimeSpec({ label: 'anonymous-fn' }), env: {} });
      for (const name of ['foreign-fn', 'anonymous-fn']) {
        const svc = api.object(NS, name) as unknown as { spec: { template: { spec: { imagePullSecrets?: unknown } } } };
        expect([name, svc.spec.template.spec.imagePullSecrets]).toEqual([name, undefined]);
      }
    });
  });

  it('says so when the Kubernetes API is unreachable', async () => {
    const other = new FakeKubeApi();
    await other.start();
    const file = other.writeKubeconfig(mkdtempSync(path.join(dir, 'gone-')));
    await other.stop();
    await expect(driver({ KUBECONFIG: file }).deploy({ deploymentId: 'd', spec: runtimeSpec({ label: 'unreachable' }), env: {} })).rejects.toThrow(
      new RegExp(`could not write Knative Service unreachable: Kubernetes API at ${other.url.replace(/\./g, '\\.')} is unreachable`),
    );
  });
});
