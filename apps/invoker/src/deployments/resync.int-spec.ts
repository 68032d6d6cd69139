import { EventNames, newEvent } from '@platform/contracts';
import { AMQP_URL, TcpProxy, waitFor } from '@platform/testing';
import { runtimeSpec, TestFunction, writeBundle } from '../testing/bundles';
import { deploymentView, InvokerHarness, publicDeploymentView, startInvoker } from '../testing/invoker-harness';

const JSON_HEADERS = { 'content-type': 'application/json' };
const answering = (word: string) => ({ 'handler.js': `module.exports.handle = () => ({ word: ${JSON.stringify(word)} });` });

type Listed = { deployments: Array<{ functionId: string; label: string; version: number; deploymentId: string }> };

/** Deploys a function that answers `word` to the invoker (PUT, as the deployer does) and lists it as the deployer would. */
async function deployAnswering(inv: InvokerHarness, label: string, word: string): Promise<TestFunction> {
  const fn = await inv.deploy({ label, family: 'node', entrypoint: 'handler.handle', files: answering(word) });
  inv.directory.deployments.set(fn.deploymentId, deploymentView(fn));
  return fn;
}

/** At the deployer only (the invoker is not told): a new version of `fn` answering `word`, deployed meanwhile. */
async function redeployAtDeployer(inv: InvokerHarness, fn: TestFunction, word: string): Promise<TestFunction> {
  const bundleDigest = await writeBundle(inv.dataDir, 'node', 'handler.handle', answering(word));
  const next = runtimeSpec({ label: fn.spec.label, family: 'node', entrypoint: 'handler.handle', bundleDigest, functionId: fn.spec.functionId });
  next.spec.version = fn.spec.version + 1;
  inv.directory.deployments.delete(fn.deploymentId);
  inv.directory.deployments.set(next.deploymentId, deploymentView(next));
  return next;
}

async function invokeWord(inv: InvokerHarness, label: string): Promise<{ status: number; word?: string; text: string }> {
  const res = await inv.request<{ word?: string }>('POST', `/invoke/${label}`, JSON.stringify({ data: {} }), JSON_HEADERS);
  return { status: res.status, word: res.json?.word, text: res.text };
}

async function listed(inv: InvokerHarness): Promise<Listed['deployments']> {
  return (await inv.request<Listed>('GET', '/deployments')).json.deployments;
}

describe('invoker: deployments resync after a broker cut and periodically (real RabbitMQ behind a TCP proxy)', () => {
  describe('on reconnect', () => {
    let inv: InvokerHarness;
    let broker: TcpProxy & { url: string };

    beforeAll(async () => {
      broker = TcpProxy.forUrl(AMQP_URL);
      await broker.start();
      // Only the invoker goes through the proxy; the deployer stand-in and the event tap stay connected. The periodic
      // resync is far off, so only the reconnect can set things right within the test.
      inv = await startInvoker({ INVOKER_PREWARM: '0' }, undefined, { invokerEnv: { AMQP_URL: broker.url, INVOKER_RESYNC_INTERVAL_MS: '3600000' } });
    }, 60_000);

    afterAll(async () => {
      await inv?.close();
      await broker?.stop();
    });

    it('drops a function undeployed and runs the new version of one redeployed while RabbitMQ was cut off for 4 s', async () => {
      const kept = await deployAnswering(inv, 'kept-fn', 'one');
      const gone = await deployAnswering(inv, 'gone-fn', 'still-here');
      inv.directory.functions.set(gone.spec.functionId, { id: gone.spec.functionId, label: 'gone-fn' });
      expect(await invokeWord(inv, 'kept-fn')).toMatchObject({ status: 200, word: 'one' });
      expect(await invokeWord(inv, 'gone-fn')).toMatchObject({ status: 200, word: 'still-here' });
      // The invoker's queue is consuming through the proxy: cutting it takes the queue away with the connection.
      expect(broker.connections).toBeGreaterThan(0);

      broker.cut();
      const cutAt = Date.now();
      // Meanwhile at the deployer: gone-fn is undeployed, kept-fn redeployed as v2. Their events are published as
      // the deployer does, and never reach this invoker: its broadcast queue went with its connection.
      inv.directory.deployments.delete(gone.deploymentId);
      const v2 = await redeployAtDeployer(inv, kept, 'two');
      inv.tap.publish(
        newEvent({
          name: EventNames.DeploymentDeleted,
          type: 'FUNCTION_DEPLOYMENT',
          status: 'SUCCESS',
          source: 'deployer',
          functionId: gone.spec.functionId,
          payload: { ...publicDeploymentView(gone), status: 'DELETED' },
        }),
      );
      inv.tap.publish(
        newEvent({
          name: EventNames.DeploymentReady,
          type: 'FUNCTION_DEPLOYMENT',
          status: 'SUCCESS',
          source: 'deployer',
          functionId: v2.spec.functionId,
          payload: { ...publicDeploymentView(v2) },
        }),
      );
      // While cut, the invoker still serves what it had (its HTTP side does not need the broker).
      expect(await invokeWord(inv, 'kept-fn')).toMatchObject({ status: 200, word: 'one' });
      await waitFor(() => Date.now() - cutAt >= 4_000, { timeoutMs: 10_000, what: 'four seconds of cut' });
      broker.restore();

      // Once reconnected, the invoker re-reads the deployments: v2 runs and gone-fn is gone.
      await waitFor(
        async () => {
          const now = await listed(inv);
          return now.some((d) => d.label === 'kept-fn' && d.version === 2 && d.deploymentId === v2.deploymentId) && !now.some((d) => d.label === 'gone-fn');
        },
        { timeoutMs: 30_000, intervalMs: 200, what: 'the invoker to run kept-fn v2 and no gone-fn after the reconnect' },
      );
      expect(await invokeWord(inv, 'kept-fn')).toMatchObject({ status: 200, word: 'two' });
      const refused = await invokeWord(inv, 'gone-fn');
      expect(refused.status).toBe(409);
      expect(refused.text).toContain('function gone-fn is not deployed');
    }, 90_000);
  });

  describe('periodically', () => {
    let inv: InvokerHarness;

    beforeAll(async () => {
      inv = await startInvoker({ INVOKER_PREWARM: '0', INVOKER_RESYNC_INTERVAL_MS: '1000' });
    }, 60_000);

    afterAll(async () => {
      await inv?.close();
    });

    it('catches up with deployments it was never told about, without a reconnect', async () => {
      const kept = await deployAnswering(inv, 'tick-fn', 'one');
      const gone = await deployAnswering(inv, 'tock-fn', 'still-here');
      inv.directory.functions.set(gone.spec.functionId, { id: gone.spec.functionId, label: 'tock-fn' });
      expect(await invokeWord(inv, 'tick-fn')).toMatchObject({ status: 200, word: 'one' });
      // No event at all this time (as if lost): only the deployer's list says what changed.
      inv.directory.deployments.delete(gone.deploymentId);
      const v2 = await redeployAtDeployer(inv, kept, 'two');
      await waitFor(
        async () => {
          const now = await listed(inv);
          return now.some((d) => d.label === 'tick-fn' && d.deploymentId === v2.deploymentId) && !now.some((d) => d.label === 'tock-fn');
        },
        { timeoutMs: 30_000, intervalMs: 200, what: 'the periodic resync to run tick-fn v2 and drop tock-fn' },
      );
      expect(await invokeWord(inv, 'tick-fn')).toMatchObject({ status: 200, word: 'two' });
      expect((await invokeWord(inv, 'tock-fn')).status).toBe(409);
    }, 90_000);
  });
});
