import amqplib from 'amqplib';
import { DeploymentPatterns, DeploymentView, EventNames, InvocationPage, InvocationPatterns } from '@platform/contracts';
import { triggerKey } from '@platform/sources';
import { uniqueName, waitFor } from '@platform/testing';
import { DeployerHarness } from '../../test-fixtures/deployer-harness';
import { RecordedCall } from '../../test-fixtures/fake-invoker';
import { ScheduleTriggers } from './schedule.triggers';

jest.setTimeout(60_000);

/** What a handler gets: the data of the invocation's body (the CloudEvent). */
const eventOf = (c: RecordedCall) => (c.body as { data: Record<string, unknown> }).data;

// Each consumer source (RabbitMQ among them) once, retried, dead and redriven, and undeployed: sources/sources.int-spec.ts.
describe('triggers wired by the deployer, through the asynchronous invocations (real RabbitMQ, Redis, Postgres; HTTP invoker)', () => {
  const h = new DeployerHarness();
  const queues: string[] = [];
  let ns = '';
  /** A queue trigger's source, and the queue it is on the platform's broker ({namespace}.{source}). */
  const sourceQueue = (prefix: string) => {
    const source = uniqueName(prefix);
    queues.push(`${ns}.${source}`);
    return { source, queue: `${ns}.${source}` };
  };
  let amqp: amqplib.ChannelModel;
  let channel: amqplib.Channel;
  const deploy = (functionId: string) => h.call<DeploymentView>(DeploymentPatterns.Deploy, { functionId });
  const undeploy = (functionId: string) => h.call<DeploymentView>(DeploymentPatterns.Undeploy, { functionId });
  const send = (queue: string, body: string, options: amqplib.Options.Publish = {}) =>
    channel.sendToQueue(queue, Buffer.from(body), { persistent: true, ...options });
  const schedulerIds = () => h.deployer!.get(ScheduleTriggers).schedulerIds();
  const list = (functionId: string, status?: string) => h.call<InvocationPage>(InvocationPatterns.List, { functionId, ...(status ? { status } : {}) });

  beforeAll(async () => {
    await h.start({ DEPLOYER_ASYNC_PUMP_INTERVAL_MS: '200' });
    ns = h.env.HKS_NAMESPACE;
    amqp = await amqplib.connect(h.env.AMQP_URL);
    channel = await amqp.createChannel();
  });

  afterAll(async () => {
    await amqp?.close();
    await h.stop(queues);
  });

  it('accepts each tick of a schedule once, as a CloudEvent with the trigger data, until it is undeployed', async () => {
    const trigger = { type: 'schedule' as const, cron: '* * * * * *', timezone: 'UTC', data: { report: 'daily' } };
    const spec = h.registry.addFunction('ticker', { triggers: [trigger] });
    await deploy(spec.functionId);
    expect(await schedulerIds()).toEqual([`${spec.functionId}:${triggerKey(trigger)}`]);

    await waitFor(() => h.invoker.invocations(spec.functionId).length >= 2, { what: 'two scheduled invocations', timeoutMs: 15_000 });
    const [first, second] = h.invoker.invocations(spec.functionId);
    expect(first.headers['x-hks-trigger']).toBe('schedule');
    expect(eventOf(first)).toMatchObject({
      specversion: '1.0',
      type: 'hks.schedule.tick',
      source: 'hks://schedule/ticker',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/),
      data: { report: 'daily' },
    });
    expect(eventOf(second).time).not.toBe(eventOf(first).time);
    await undeploy(spec.functionId);
    expect(await schedulerIds()).toEqual([]);
    const page = await list(spec.functionId);
    expect(page.items.every((i) => i.source === 'schedule')).toBe(true);
    // One invocation per tick, whatever ran the job.
    expect(new Set(page.items.map((i) => i.idempotencyKey)).size).toBe(page.items.length);
  });

  it('hands each queue message to one invocation as a CloudEvent whose data is the body, and acknowledges it once accepted', async () => {
    const { source, queue } = sourceQueue('orders-');
    const spec = h.registry.addFunction('order-processor', { triggers: [{ type: 'queue', source, batchSize: 10, maxBatchWaitMs: 200 }] });
    await deploy(spec.functionId);
    for (const body of ['{"order":1}', '{"order":2}', 'plain text']) send(queue, body, { contentType: 'application/json' });

    await waitFor(() => h.invoker.invocations(spec.functionId).length >= 3, { what: 'three messages delivered' });
    const events = h.invoker.invocations(spec.functionId).map(eventOf);
    // The doc's handler: JSON.parse(event.data).
    expect(events.map((e) => e.data).sort()).toEqual(['plain text', '{"order":1}', '{"order":2}']);
    expect(events[0]).toMatchObject({ specversion: '1.0', type: 'hks.queue.message' });
    expect(h.invoker.invocations(spec.functionId)[0].headers['x-hks-trigger']).toBe('queue');
    await waitFor(async () => (await channel.checkQueue(queue)).messageCount === 0, { what: 'queue drained' });
    await waitFor(async () => (await list(spec.functionId, 'succeeded')).items.length === 3, { what: 'three invocations succeeded' });
    await undeploy(spec.functionId);
  });

  it('with deliver: batch, hands up to batch_size messages to one invocation whose data is the list', async () => {
    const { source, queue } = sourceQueue('batch-');
    const spec = h.registry.addFunction('batcher', { triggers: [{ type: 'queue', source, batchSize: 3, maxBatchWaitMs: 300, deliver: 'batch' }] });
    await deploy(spec.functionId);
    for (const body of ['a', 'b', 'c', 'd']) send(queue, body);
    await waitFor(() => h.invoker.invocations(spec.functionId).flatMap((c) => eventOf(c).data as unknown[]).length >= 4, { what: 'four messages' });
    const batches = h.invoker.invocations(spec.functionId).map((c) => eventOf(c).data);
    expect(batches).toEqual([['a', 'b', 'c'], ['d']]);
    expect(eventOf(h.invoker.invocations(spec.functionId)[0]).type).toBe('hks.batch');
    await undeploy(spec.functionId);
  });

  it('consumes an exchange with a binding key on an AMQP URL, and publishes results to the result topic', async () => {
    const exchange = uniqueName('shop-');
    const { source, queue } = sourceQueue('shop-orders-');
    const results = uniqueName('results-');
    queues.push(results, source);
    await channel.assertQueue(results, { durable: true });
    const spec = h.registry.addFunction('on-shop', {
      triggers: [{ type: 'queue', url: h.env.AMQP_URL, source, exchange, bindingKey: 'order.*', resultTopic: results }],
    });
    h.invoker.answerInvoke(spec.functionId, { status: 200, body: { handled: true } });
    await deploy(spec.functionId);
    channel.publish(exchange, 'order.placed', Buffer.from('{"id":7}'));
    channel.publish(exchange, 'invoice.sent', Buffer.from('{"id":8}'));

    await waitFor(() => h.invoker.invocations(spec.functionId).length === 1, { what: 'the bound message' });
    expect(eventOf(h.invoker.invocations(spec.functionId)[0])).toMatchObject({ data: '{"id":7}', subject: 'order.placed' });
    let published: amqplib.GetMessage | false = false;
    await waitFor(async () => !!(published = await channel.get(results, { noAck: true })), { what: 'the result message' });
    expect(JSON.parse((published as unknown as amqplib.GetMessage).content.toString())).toMatchObject({ status: 'succeeded', result: { handled: true } });
    await new Promise((r) => setTimeout(r, 300));
    expect(h.invoker.invocations(spec.functionId)).toHaveLength(1);
    void queue;
    await undeploy(spec.functionId);
  });

  it('stops consuming when the function is undeployed: what is published then stays on the queue', async () => {
    const { source, queue } = sourceQueue('undeployed-');
    const spec = h.registry.addFunction('short-lived', { triggers: [{ type: 'queue', source }] });
    await deploy(spec.functionId);
    send(queue, 'one');
    await waitFor(() => h.invoker.invocations(spec.functionId).length === 1, { what: 'the first message' });
    await undeploy(spec.functionId);
    await waitFor(async () => (await channel.checkQueue(queue)).consumerCount === 0, { what: 'consumer gone' });
    send(queue, 'two');
    await new Promise((r) => setTimeout(r, 500));
    expect((await channel.checkQueue(queue)).messageCount).toBe(1);
    expect(h.invoker.invocations(spec.functionId)).toHaveLength(1);
  });

  it('fails the deployment with the broker’s words when its queue trigger cannot consume the queue', async () => {
    const { source, queue } = sourceQueue('transient-');
    await channel.assertQueue(queue, { durable: false });
    const spec = h.registry.addFunction('bad-queue', { triggers: [{ type: 'queue', source }] });
    const view = await deploy(spec.functionId);
    expect(view.status).toBe('FAILED');
    expect(view.reason).toContain('could not wire the triggers');
    expect(view.reason).toContain('PRECONDITION_FAILED');
  });

  it('invokes the functions subscribed to an event type with the event as a CloudEvent (data: the payload), once', async () => {
    const orders = h.registry.addFunction('on-order', { triggers: [{ type: 'event', eventType: 'user_registered' }] });
    const other = h.registry.addFunction('on-other', { triggers: [{ type: 'event', eventType: 'ITEM_SHIPPED' }] });
    await deploy(orders.functionId);
    await deploy(other.functionId);

    await h.publish({ name: EventNames.EventCreated, type: 'user_registered', source: 'https://shop.example', payload: { email: 'a@example.com' } });
    await waitFor(() => h.invoker.invocations(orders.functionId).length === 1, { what: 'event-triggered invocation' });
    const [call] = h.invoker.invocations(orders.functionId);
    expect(call.headers['x-hks-trigger']).toBe('event');
    // The doc's handler: event.get('type'), event.get('data')['email'].
    expect(eventOf(call)).toMatchObject({ specversion: '1.0', type: 'user_registered', source: 'https://shop.example', data: { email: 'a@example.com' } });
    expect(h.invoker.invocations(other.functionId)).toEqual([]);
    await undeploy(orders.functionId);
    await undeploy(other.functionId);
  });

  it('rebuilds the consumers of deployed functions after a deployer restart, and delivers what came meanwhile', async () => {
    const { source, queue } = sourceQueue('after-restart-');
    const spec = h.registry.addFunction('survivor', { triggers: [{ type: 'queue', source }] });
    await deploy(spec.functionId);
    await h.stopDeployer();
    send(queue, '{"sent":"while the deployer was down"}');
    await h.startDeployer();

    await waitFor(() => h.invoker.invocations(spec.functionId).length === 1, { what: 'delivery after restart' });
    expect(eventOf(h.invoker.invocations(spec.functionId)[0]).data).toBe('{"sent":"while the deployer was down"}');
    await undeploy(spec.functionId);
  });

  it('unwires the triggers of a function that is deleted', async () => {
    const { source, queue } = sourceQueue('deleted-');
    const spec = h.registry.addFunction('doomed', {
      triggers: [
        { type: 'queue', source },
        { type: 'schedule', cron: '0 0 1 1 *' },
      ],
    });
    await deploy(spec.functionId);
    expect((await schedulerIds()).some((id) => id.startsWith(spec.functionId))).toBe(true);
    await h.functionDeleted(spec.functionId);
    await waitFor(async () => !(await schedulerIds()).some((id) => id.startsWith(spec.functionId)), { what: 'scheduler removed' });
    await waitFor(async () => (await channel.checkQueue(queue)).consumerCount === 0, { what: 'consumer gone' });
  });
});
