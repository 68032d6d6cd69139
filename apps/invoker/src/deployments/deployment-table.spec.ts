import { randomUUID } from 'crypto';
import type { RpcClient } from '@platform/messaging';
import type { BundleStore } from '../bundles/bundle-store';
import type { ImageStore } from '../images/image-store';
import type { InvokerSettingsValues } from '../settings';
import type { WorkerLauncher } from '../workers/worker-launcher';
import { parseOrder } from './deployment-request';
import { DeploymentTable } from './deployment-table';

const functionId = randomUUID();
const knativeOrder = (deploymentId: string) =>
  parseOrder(
    functionId,
    {
      deploymentId,
      spec: {
        functionId,
        label: 'raced',
        version: 1,
        runtime: 'node',
        family: 'node',
        template: 'node',
        entrypoint: 'handler.*',
        bundleDigest: `sha256:${'a'.repeat(64)}`,
        image: null,
        config: {},
      },
    },
    'knative',
    'http://raced.functions.example',
  );

describe('the deployment table', () => {
  // A Knative order starts no pool, so nothing but the table's own ordering is under test.
  const table = () =>
    new DeploymentTable(
      {} as RpcClient,
      {} as BundleStore,
      {} as WorkerLauncher,
      {} as ImageStore,
      { INVOKER_LOAD_TIMEOUT_MS: 5_000 } as InvokerSettingsValues,
    );

  it('removes a deployment whose install was still in progress when the remove came: the remove waits its turn', async () => {
    const t = table();
    const d1 = randomUUID();
    const installed = t.install(knativeOrder(d1));
    // deployment.deleted arrives while the install (a lookup on first use, say) has not finished.
    const removed = t.remove(functionId, d1);
    await expect(installed).resolves.toMatchObject({ order: { deploymentId: d1 } });
    expect(await removed).toBe(true);
    expect(t.find(functionId)).toBeUndefined();
    expect(t.find('raced')).toBeUndefined();
  });

  it('applies installs and removes of one function in the order they came, and leaves a newer deployment alone', async () => {
    const t = table();
    const [d1, d2] = [randomUUID(), randomUUID()];
    const first = t.install(knativeOrder(d1));
    const removeOld = t.remove(functionId, d1);
    const second = t.install(knativeOrder(d2));
    // A late deployment.deleted of d1 must not remove d2.
    const lateRemove = t.remove(functionId, d1);
    await Promise.all([first, second]);
    expect(await removeOld).toBe(true);
    expect(await lateRemove).toBe(false);
    expect(t.find('raced')?.order.deploymentId).toBe(d2);
    expect(await t.remove('raced')).toBe(true);
    expect(t.find(functionId)).toBeUndefined();
  });
});
