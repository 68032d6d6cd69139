import amqplib from 'amqplib';
import { DeploymentPatterns, DeploymentView, EventNames, PlatformEvent } from '@platform/contracts';
import { uniqueName, waitFor } from '@platform/testing';
import { DeployerHarness } from '../../test-fixtures/deployer-harness';
import { ScheduleTriggers } from './schedule.triggers';

jest.setTimeout(60_000);

describe('triggers wired by the deployer (real RabbitMQ and Redis, HTTP invoker)', () => {
  const h = new DeployerHarness();
  const sources: string[] = [];
  const sourceQueue = (prefix: string) => {
    const name = uniqueName(prefix);
    sources.push(name);
    return name;
  };
  let amqp: amqplib.ChannelModel;
  let channel: amqplib.Channel;
  const deploy = (functionId: string) => h.call<DeploymentView>(DeploymentPatterns.Deploy, { functionId });
  const undeploy = (functionId: string) => h.call<DeploymentView>(DeploymentPatterns.Undeploy, { functionId });
  const send = (queue: string, body: string) => channel.sendToQueue(queue, Buffer.from(body), { persistent: true });
  const schedulerIds = () => h.deployer!.get(ScheduleTriggers).schedulerIds();

  beforeAll(async () => {
    await h.start();
    amqp = await amqplib.connect(h.env.AMQP_URL);
    channel = await amqp.createChannel();
  });

  afterAll(async () => {
    await amqp?.close();
    await h.stop(sources);
  });

  it('invokes a function on its schedule with scheduledAt and the trigger data, until it is undeployed', async () => {
    const spec = h.registry.addFunction('ticker', { triggers: [{ type: 'schedule', cron: '* * * * * *', timezone: 'UTC', data: { report: 'daily' } }] });
    await deploy(spec.functionId);
    expect(await schedulerIds()).toEqual([`${spec.functionId}:0`]);

    await waitFor(() => h.invoker.invocations(spec.functionId).length >= 2, { what: 'two scheduled invocations', timeoutMs: 15_000 });
    const [first] = h.invoker.invocations(spec.functionId);
    expect(first.headers['x-hks-trigger']).toBe('schedule');
    expect(first.body).toEqual({ data: { scheduledAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/), report: 'daily' } });

    await undeploy(spec.functionId);
    expect(await schedulerIds()).toEqual([]);
  });

  it('batches queue messages (JSON or text) into one invocation each and acknowledges them', async () => {
    const source = sourceQueue('orders-');
    const spec = h.registry.addFunction('order-batcher', { triggers: [{ type: 'queue', source, batchSize: 3, maxBatchWaitMs: 300 }] });
    await deploy(spec.functionId);
    for (const body of ['{"order":1}', '{"order":2}', 'plain text', '{"order":4}']) send(source, body);

    await waitFor(() => h.invoker.invocations(spec.functionId).flatMap((c) => (c.body as { data: unknown[] }).data).length >= 4, {
      what: 'four messages delivered',
    });
    const batches = h.invoker.invocations(spec.functionId).map((c) => (c.body as { data: unknown[] }).data);
    expect(batches).toEqual([[{ order: 1 }, { order: 2 }, 'plain text'], [{ order: 4 }]]);
    expect(h.invoker.invocations(spec.functionId)[0].headers['x-hks-trigger']).toBe('queue');
    await waitFor(async () => (await channel.checkQueue(source)).messageCount === 0, { what: 'queue drained' });
    await undeploy(spec.functionId);
  });

  it('puts a batch back on the queue when the invocation fails and delivers it again', async () => {
    const source = sourceQueue('retry-');
    const spec = h.registry.addFunction('flaky-consumer', { triggers: [{ type: 'queue', source, batchSize: 2, maxBatchWaitMs: 100 }] });
    h.invoker.answerInvoke(spec.functionId, { status: 503, body: { statusCode: 503, error: 'Service Unavailable', message: 'pool draining' } });
    await deploy(spec.functionId);
    send(source, '{"n":1}');
    send(source, '{"n":2}');

    await waitFor(() => h.invoker.invocations(spec.functionId).length >= 2, { what: 'a retried invocation' });
    const [failed, retried] = h.invoker.invocations(spec.functionId).map((c) => c.body);
    expect(failed).toEqual({ data: [{ n: 1 }, { n: 2 }] });
    expect(retried).toEqual({ data: [{ n: 1 }, { n: 2 }] });
    await waitFor(async () => (await channel.checkQueue(source)).messageCount === 0, { what: 'queue drained' });
    await undeploy(spec.functionId);
  });

  it('fails the deployment with the broker’s words when its queue trigger cannot consume the queue', async () => {
    const source = sourceQueue('transient-');
    await channel.assertQueue(source, { durable: false });
    const spec = h.registry.addFunction('bad-queue', { triggers: [{ type: 'queue', source }] });
    const view = await deploy(spec.functionId);
    expect(view.status).toBe('FAILED');
    expect(view.reason).toContain(`could not wire the triggers: cannot consume RabbitMQ queue "${source}"`);
    expect(view.reason).toContain('PRECONDITION_FAILED');
    expect(h.registry.lastStatus(spec.functionId)).toMatchObject({ status: 'FAILED', reason: view.reason });
  });

  it('invokes the functions subscribed to an event type when such an event is created, and only those', async () => {
    const orders = h.registry.addFunction('on-order', { triggers: [{ type: 'event', eventType: 'ORDER_PLACED' }] });
    const shipping = h.registry.addFunction('on-shipping', { triggers: [{ type: 'event', eventType: 'ITEM_SHIPPED' }] });
    await deploy(orders.functionId);
    await deploy(shipping.functionId);

    await h.publish({ name: EventNames.EventCreated, type: 'ORDER_PLACED', source: 'api', payload: { orderId: 42 } });
    await waitFor(() => h.invoker.invocations(orders.functionId).length === 1, { what: 'event-triggered invocation' });
    const [call] = h.invoker.invocations(orders.functionId);
    expect(call.headers['x-hks-trigger']).toBe('event');
    expect((call.body as { data: PlatformEvent }).data).toMatchObject({ name: 'event.created', type: 'ORDER_PLACED', payload: { orderId: 42 } });
    expect(h.invoker.invocations(shipping.functionId)).toEqual([]);

    // Undeployed: its subscription leaves the index. Events of a type are handled in order, so once the later
    // ITEM_SHIPPED has reached its function, the ORDER_PLACED before it has been handled too.
    await undeploy(orders.functionId);
    await h.publish({ name: EventNames.EventCreated, type: 'ORDER_PLACED', source: 'api', payload: { orderId: 43 } });
    await h.publish({ name: EventNames.EventCreated, type: 'ITEM_SHIPPED', payload: { orderId: 42 } });
    await waitFor(() => h.invoker.invocations(shipping.functionId).length === 1, { what: 'the shipping function' });
    expect(h.invoker.invocations(orders.functionId)).toHaveLength(1);
    await undeploy(shipping.functionId);
  });

  it('invokes a function subscribed to a custom dotted type, with the event as stored (no routing label)', async () => {
    const shop = h.registry.addFunction('on-shop-order', { triggers: [{ type: 'event', eventType: 'com.shop.order.placed' }] });
    await deploy(shop.functionId);
    // Concerning the function itself: routed as event.com.shop.order.placed.on-shop-order.
    await h.publish({
      name: EventNames.EventCreated,
      type: 'com.shop.order.placed',
      source: 'https://shop.example',
      functionId: shop.functionId,
      functionLabel: 'on-shop-order',
      payload: { orderId: 7 },
    });
    await h.publish({ name: EventNames.EventCreated, type: 'com.shop.order.cancelled', source: 'https://shop.example', payload: { orderId: 7 } });
    await waitFor(() => h.invoker.invocations(shop.functionId).length === 1, { what: 'the invocation for com.shop.order.placed' });
    const data = (h.invoker.invocations(shop.functionId)[0].body as { data: PlatformEvent }).data;
    expect(data).toMatchObject({ name: 'event.created', type: 'com.shop.order.placed', source: 'https://shop.example', payload: { orderId: 7 } });
    expect(data).not.toHaveProperty('functionLabel');
    await new Promise((r) => setTimeout(r, 300));
    expect(h.invoker.invocations(shop.functionId)).toHaveLength(1);
    await undeploy(shop.functionId);
  });

  it('rebuilds the triggers of deployed functions after a deployer restart', async () => {
    const source = sourceQueue('after-restart-');
    const spec = h.registry.addFunction('survivor', { triggers: [{ type: 'queue', source, batchSize: 1 }] });
    await deploy(spec.functionId);
    await h.stopDeployer();
    send(source, '{"sent":"while the deployer was down"}');
    await h.startDeployer();

    await waitFor(() => h.invoker.invocations(spec.functionId).length === 1, { what: 'delivery after restart' });
    expect(h.invoker.invocations(spec.functionId)[0].body).toEqual({ data: [{ sent: 'while the deployer was down' }] });
    await undeploy(spec.functionId);
  });

  it('unwires the triggers of a function that is deleted', async () => {
    const source = sourceQueue('deleted-');
    const spec = h.registry.addFunction('doomed', {
      triggers: [
        { type: 'queue', source, batchSize: 1 },
        { type: 'schedule', cron: '0 0 1 1 *' },
      ],
    });
    await deploy(spec.functionId);
    expect(await schedulerIds()).toContain(`${spec.functionId}:0`);
    await h.functionDeleted(spec.functionId);
    await waitFor(async () => !(await schedulerIds()).some((id) => id.startsWith(spec.functionId)), { what: 'scheduler removed' });
    await waitFor(async () => (await channel.checkQueue(source)).consumerCount === 0, { what: 'consumer gone' });
  });
});
