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
