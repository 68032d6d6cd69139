import { Controller, INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { randomUUID } from 'crypto';
import { EventPage, EventPatterns, FunctionPatterns, FunctionRef, newEvent, NotFoundError, PlatformEvent, customEventBinding } from '@platform/contracts';
import { CommonSettingsValues, SETTINGS, SettingsModule } from '@platform/config';
import { EventPublisher, EventSubscriber, RpcClient, RpcErrorFilter, rpcServerOptions } from '@platform/messaging';
import { createTestDatabase, isolatedEnv, startPeer, waitFor } from '@platform/testing';
import { startEventStore } from '../testing/harness';

const FN = randomUUID();
const OTHER_FN = randomUUID();
const T0 = Date.parse('2026-01-31T12:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

/** Stands in for the function registry: knows one label. */
@Controller()
class RegistryResolve {
  @MessagePattern(FunctionPatterns.Resolve)
  resolve(@Payload() p: FunctionRef) {
    if (p.id === 'my-function' || p.id === FN) return { id: FN, label: 'my-function' };
    throw new NotFoundError(`function ${p.id} not found`);
  }
}

describe('event store RPC: query, get, create', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let iso: ReturnType<typeof isolatedEnv>;
  let store: INestApplication;
  let peer: INestApplication;
  let registry: INestApplication;
  let rpc: RpcClient;
  const seeded: PlatformEvent[] = [];

  const call = <T>(pattern: string, payload: unknown) => rpc.call<T>('event-store', pattern, payload);
  const query = (q: Record<string, unknown>) => call<EventPage>(EventPatterns.Query, q);

  beforeAll(async () => {
    db = await createTestDatabase();
    iso = isolatedEnv({ DATABASE_URL: db.url });
    store = await startEventStore(iso.env);
    peer = await startPeer(iso.env);
    rpc = peer.get(RpcClient);

    @Module({ imports: [SettingsModule.forRoot({}, iso.env)], controllers: [RegistryResolve] })
    class RegistryModule {}
    registry = await NestFactory.create(RegistryModule, { logger: false });
    registry.useGlobalFilters(new RpcErrorFilter());
    registry.connectMicroservice(rpcServerOptions(registry.get<CommonSettingsValues>(SETTINGS), 'function-registry'), { inheritAppConfig: true });
    await registry.startAllMicroservices();
    await registry.init();

    // Seven invocations of FN, a minute apart: pending at even minutes, results at odd ones.
    for (let i = 0; i < 7; i++) {
      const result = i % 2 === 1;
      seeded.push(
        newEvent({
          name: result ? (i === 5 ? 'invocation.failed' : 'invocation.succeeded') : 'invocation.pending',
          type: 'FUNCTION_INVOCATION',
          status: !result ? 'PENDING' : i === 5 ? 'FAILURE' : 'SUCCESS',
          source: 'invoker',
          functionId: FN,
          invocationId: randomUUID(),
          timestamp: at(i),
        }),
      );
    }
    seeded.push(
      newEvent({ name: 'function.created', type: 'FUNCTION_CREATED', status: 'SUCCESS', source: 'function-registry', functionId: OTHER_FN, timestamp: at(3) }),
    );
    const publisher = peer.get(EventPublisher);
    await Promise.all(seeded.map((e) => publisher.publish(e)));
    await waitFor(async () => (await query({ limit: 500 })).total === seeded.length, { what: 'the seeded events' });
  });

  afterAll(async () => {
    await registry?.close();
    await peer?.close();
    await store?.close();
    await db?.drop();
    iso?.cleanup();
  });

  const fnEvents = () => seeded.filter((e) => e.functionId === FN);
  const ids = (events: PlatformEvent[]) => events.map((e) => e.id);

  it('pages through a function’s events newest first, with the total of all of them', async () => {
    const newestFirst = [...fnEvents()].reverse();
    const first = await query({ functionId: FN, limit: 3 });
    expect(first).toMatchObject({ total: 7, page: 1, limit: 3 });
    expect(ids(first.items)).toEqual(ids(newestFirst.slice(0, 3)));
    const last = await query({ functionId: FN, limit: 3, page: 3 });
    expect(last.total).toBe(7);
    expect(ids(last.items)).toEqual(ids(newestFirst.slice(6)));
    const beyond = await query({ functionId: FN, limit: 3, page: 4 });
    expect(beyond).toEqual({ items: [], total: 7, page: 4, limit: 3 });
  });

  it('orders oldest first on request, and reads page and limit given as text (query strings)', async () => {
    const page = await query({ functionId: FN, order: 'asc', limit: '2', page: '2' });
    expect(ids(page.items)).toEqual(ids(fnEvents().slice(2, 4)));
    expect(page).toMatchObject({ page: 2, limit: 2, total: 7 });
  });

  it('filters by type, status, invocation and time range (to is exclusive)', async () => {
    const created = await query({ type: 'FUNCTION_CREATED' });
    expect(ids(created.items)).toEqual([seeded[7].id]);
    const failures = await query({ status: 'FAILURE' });
    expect(failures).toMatchObject({ total: 1, items: [{ id: seeded[5].id, error: null, status: 'FAILURE' }] });
    const one = await query({ invocationId: seeded[2].invocationId });
    expect(ids(one.items)).toEqual([seeded[2].id]);
    const window = await query({ from: at(2), to: at(5), order: 'asc' });
    expect(window.total).toBe(4);
    // Minute 3 has two events: equal timestamps are ordered by id, so pages stay stable.
    const minute3 = [seeded[3].id, seeded[7].id].sort();
    expect(ids(window.items)).toEqual([seeded[2].id, ...minute3, seeded[4].id]);
    const pendingOfFn = await query({ functionId: FN, status: 'PENDING', type: 'FUNCTION_INVOCATION' });
    expect(pendingOfFn.total).toBe(4);
  });

  it('accepts a function label where it takes a function id', async () => {
    const byLabel = await query({ functionId: 'my-function', limit: 1 });
    expect(byLabel.total).toBe(7);
    await expect(query({ functionId: 'no-such-function' })).rejects.toMatchObject({ statusCode: 404, message: 'function no-such-function not found' });
  });

  it('answers 400 naming the field when a query is wrong', async () => {
    await expect(query({ limit: 1000 })).rejects.toMatchObject({ statusCode: 400, message: 'limit must be a whole number from 1 to 500' });
    await expect(query({ functionId: 'Not A Label!' })).rejects.toMatchObject({ statusCode: 400, message: 'functionId must be a UUID' });
    await expect(query({ status: 'DONE' })).rejects.toMatchObject({ statusCode: 400, message: 'status must be one of PENDING, SUCCESS, FAILURE' });
    await expect(query({ from: 'yesterday' })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/^from must be an ISO-8601 date-time/),
    });
    await expect(query({ from: at(5), to: at(1) })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/^from \(.*\) must be before to/),
    });
    await expect(query({ colour: 'red' })).rejects.toMatchObject({ statusCode: 400, message: 'unknown field "colour"' });
  });

  it('gets one event by id, 404 when there is none, 400 when the id is not a UUID', async () => {
    await expect(call(EventPatterns.Get, { id: seeded[1].id })).resolves.toEqual(seeded[1]);
    const missing = randomUUID();
    await expect(call(EventPatterns.Get, { id: missing })).rejects.toMatchObject({ statusCode: 404, message: `event ${missing} not found` });
    await expect(call(EventPatterns.Get, { id: 'abc' })).rejects.toMatchObject({ statusCode: 400, message: 'id must be a UUID' });
  });

  it('creates an event with defaults, stores it once and publishes it as event.created', async () => {
    const heard: PlatformEvent[] = [];
    await peer.get(EventSubscriber).subscribe({
      queue: 'test.event-created',
      bindings: [customEventBinding()],
      handler: (events) => {
        heard.push(...events);
      },
    });
    const created = await call<PlatformEvent>(EventPatterns.Create, { type: 'ORDER_PLACED', payload: 'order 42' });
    expect(created).toMatchObject({
      name: 'event.created',
      type: 'ORDER_PLACED',
      status: 'SUCCESS',
      source: 'api',
      functionId: null,
      invocationId: null,
      payload: 'order 42',
    });
    expect(Date.parse(created.timestamp)).not.toBeNaN();
    await waitFor(() => heard.length >= 1, { what: 'the event.created event' });
    expect(heard).toEqual([created]);
    await expect(call(EventPatterns.Get, { id: created.id })).resolves.toEqual(created);

    // The store also consumes its own event.created: still one row.
    const marker = newEvent({ name: 'function.created', type: 'FUNCTION_CREATED', status: 'SUCCESS', source: 'test' });
    await peer.get(EventPublisher).publish(marker);
    await waitFor(() => call(EventPatterns.Get, { id: marker.id }).catch(() => null), { what: 'the marker' });
    await expect(query({ type: 'ORDER_PLACED' })).resolves.toMatchObject({ total: 1, items: [created] });
  });

  it('creates an event for a function named by its label', async () => {
    const created = await call<PlatformEvent>(EventPatterns.Create, { type: 'USER_CREATED', functionId: 'my-function' });
    expect(created).toMatchObject({ type: 'USER_CREATED', functionId: FN });
  });

  it('stores every one of 2,000 events created over 16 concurrent callers exactly once, and publishes each', async () => {
    const heard = new Set<string>();
    await peer.get(EventSubscriber).subscribe({
      queue: 'test.many-created',
      bindings: ['event.com.shop.load.#'],
      batchSize: 200,
      handler: (events) => {
        for (const e of events) heard.add(e.id);
      },
    });
    const created: PlatformEvent[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < 2000) {
          const n = next++;
          created.push(await call<PlatformEvent>(EventPatterns.Create, { type: 'com.shop.load', payload: { n } }));
        }
      }),
    );
    // Each caller got its own event back: 2,000 ids, one per payload.
    expect(new Set(created.map((e) => e.id)).size).toBe(2000);
    expect(new Set(created.map((e) => (e.payload as { n: number }).n)).size).toBe(2000);
    await expect(query({ type: 'com.shop.load', limit: 1 })).resolves.toMatchObject({ total: 2000 });
    await waitFor(() => heard.size === 2000, { what: 'the 2,000 event.created messages', timeoutMs: 20_000 });
    expect([...heard].sort()).toEqual(created.map((e) => e.id).sort());
  }, 60_000);

  it('publishes a custom event of a dotted type under event.<type>.<label>, with the label of its function', async () => {
    const heard: PlatformEvent[] = [];
    await peer.get(EventSubscriber).subscribe({
      queue: 'test.shop-orders',
      bindings: ['event.com.shop.order.placed.my-function', 'event.com.shop.order.placed._'],
      handler: (events) => {
        heard.push(...events);
      },
    });
    const mine = await call<PlatformEvent>(EventPatterns.Create, { type: 'com.shop.order.placed', functionId: FN, payload: { orderId: 1 } });
    const unknownFunction = await call<PlatformEvent>(EventPatterns.Create, { type: 'com.shop.order.placed', functionId: OTHER_FN });
    const noFunction = await call<PlatformEvent>(EventPatterns.Create, { type: 'com.shop.order.placed' });
    const otherType = await call<PlatformEvent>(EventPatterns.Create, { type: 'com.shop.order.cancelled', functionId: FN });
    await waitFor(() => heard.length >= 3, { what: 'three com.shop.order.placed events' });
    // The label travels on the bus only: the stored event has none.
    expect(mine).not.toHaveProperty('functionLabel');
    expect(heard.find((e) => e.id === mine.id)).toEqual({ ...mine, functionLabel: 'my-function' });
    // A function the registry does not know is routed as concerning none.
    expect(heard.find((e) => e.id === unknownFunction.id)).toEqual(unknownFunction);
    expect(heard.map((e) => e.id)).toContain(noFunction.id);
    expect(heard.map((e) => e.id)).not.toContain(otherType.id);
  });

  it('creates an event with the given source, status and function', async () => {
    const created = await call<PlatformEvent>(EventPatterns.Create, {
      type: 'PAYMENT_PROCESSED',
      source: 'shop',
      status: 'FAILURE',
      functionId: OTHER_FN,
      payload: { amount: 12.5, currency: 'EUR' },
    });
    expect(created).toMatchObject({ source: 'shop', status: 'FAILURE', functionId: OTHER_FN, payload: { amount: 12.5, currency: 'EUR' } });
  });

  it('answers 400 naming the field when a created event is wrong', async () => {
    await expect(call(EventPatterns.Create, { type: 'FUNCTION_INVOCATION' })).rejects.toMatchObject({
      statusCode: 400,
      message:
        "type FUNCTION_INVOCATION is one of the platform's own event types (FUNCTION_INVOCATION, FUNCTION_CREATED, FUNCTION_UPDATED, FUNCTION_DELETED, FUNCTION_BUILD, FUNCTION_DEPLOYMENT, API_KEY), which only the platform records; choose a type of your own, e.g. ORDER_PLACED or com.shop.order.placed",
    });
    await expect(call(EventPatterns.Create, { type: 'order placed' })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/^type "order placed" is not an event type/),
    });
    await expect(call(EventPatterns.Create, { type: 'OTHER', id: randomUUID() })).rejects.toMatchObject({ statusCode: 400, message: 'unknown field "id"' });
    await expect(call(EventPatterns.Create, { type: 'OTHER', functionId: 'Not A Label!' })).rejects.toMatchObject({
      statusCode: 400,
      message: 'functionId must be a UUID',
    });
  });
});
