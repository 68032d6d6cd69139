import { INestApplication } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as http from 'http';
import * as path from 'path';
import { Client } from 'pg';
import request from 'supertest';
import { eventIdOf, MAX_POSTED_BATCH, PlatformEvent } from '@platform/contracts';
import { EventPublisher } from '@platform/messaging';
// Real registry and event store (built: `npm run build` first), real RabbitMQ and Postgres.
import { createTestDatabase, isolatedEnv, removeNamespace, ServiceProcess, TcpProxy, waitFor } from '@platform/testing';
import { startGateway } from '../testing/start-gateway';

const BATCH = 'application/cloudevents-batch+json';
const STRUCTURED = 'application/cloudevents+json';

describe('POST /api/v3/events: published to the bus, stored by the event store', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let iso: ReturnType<typeof isolatedEnv>;
  let registry: ServiceProcess;
  let store: ServiceProcess;
  let gateway: { app: INestApplication; url: string };
  let adminKey: string;
  let pg: Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    iso = isolatedEnv({ DATABASE_URL: db.url, RPC_TIMEOUT_MS: '3000' });
    registry = await ServiceProcess.start('function-registry', 'REGISTRY_PORT', iso.env);
    store = await ServiceProcess.start('event-store', 'EVENT_STORE_PORT', iso.env);
    adminKey = readFileSync(path.join(iso.env.HKS_DATA_DIR, 'admin-key'), 'utf8').trim();
    gateway = await startGateway(iso.env);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
  }, 90_000);

  afterAll(async () => {
    await pg?.end();
    await gateway?.app.close();
    await store?.stop();
    await registry?.stop();
    await db?.drop();
    if (iso)
      await removeNamespace(iso.env.AMQP_URL, iso.env.HKS_NAMESPACE, ['function-registry', 'deployer', 'builder', 'event-store'], ['function-registry.builds']);
    iso?.cleanup();
  }, 30_000);

  const api = () => request(gateway.url);
  const post = (body: unknown, type = 'application/json') =>
    api().post('/api/v3/events').set('authorization', `Bearer ${adminKey}`).set('content-type', type).send(JSON.stringify(body));
  const cloudEvent = (fields: Record<string, unknown> = {}) => ({
    specversion: '1.0',
    id: randomUUID(),
    source: 'https://shop.example/orders',
    type: 'com.shop.order.placed',
    data: { orderId: 1 },
    ...fields,
  });

  /** How many rows each of the ids has in the table (0 when not stored). */
  async function rowsOf(ids: string[]): Promise<Map<string, number>> {
    const { rows } = await pg.query<{ id: string; n: number }>('SELECT id, count(*)::int AS n FROM events.events WHERE id = ANY($1::uuid[]) GROUP BY id', [
      ids,
    ]);
    return new Map(ids.map((id) => [id, rows.find((r) => r.id === id)?.n ?? 0]));
  }

  /** Posting is answered before the event is stored: a client that wants to read it polls. */
  const stored = (id: string, timeoutMs = 15_000) =>
    waitFor(
      async () => {
        const res = await api().get(`/api/v3/events/${id}`).set('authorization', `Bearer ${adminKey}`);
        return res.status === 200 ? (res.body as PlatformEvent) : undefined;
      },
      { timeoutMs, what: `event ${id} stored` },
    );

  it('answers 201 with the event, which is then queryable as answered', async () => {
    const res = await post({ type: 'ORDER_PLACED', source: 'shop', payload: { orderId: 42 } }).expect(201);
    const answered = res.body as PlatformEvent;
    expect(answered).toMatchObject({
      name: 'event.created',
      type: 'ORDER_PLACED',
      source: 'shop',
      status: 'SUCCESS',
      payload: { orderId: 42 },
      functionId: null,
    });
    expect(answered).not.toHaveProperty('functionLabel');
    expect(await stored(answered.id)).toEqual(answered);
  });

  it('stores every acknowledged event exactly once under a burst of 2,000 over several connections, batches included', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const send = (body: unknown, type: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const text = JSON.stringify(body);
        const req = http.request(
          `${gateway.url}/api/v3/events`,
          { method: 'POST', agent, headers: { 'content-type': type, 'content-length': Buffer.byteLength(text), authorization: `Bearer ${adminKey}` } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
          },
        );
        req.on('error', reject);
        req.end(text);
      });
    const singles = Array.from({ length: 1000 }, (_, n) =>
      n % 2 ? send({ type: 'com.shop.burst', payload: { n } }, 'application/json') : send(cloudEvent({ type: 'com.shop.burst', data: { n } }), STRUCTURED),
    );
    const batches = Array.from({ length: 10 }, (_, b) =>
      send(
        Array.from({ length: 100 }, (_x, i) => cloudEvent({ type: 'com.shop.burst', data: { b, i } })),
        BATCH,
      ),
    );
    const answers = await Promise.all([...singles, ...batches]);
    agent.destroy();
    expect(answers.filter((a) => a.status !== 201)).toEqual([]);
    const ids = answers.flatMap((a) => {
      const got = JSON.parse(a.body) as PlatformEvent | PlatformEvent[];
      return (Array.isArray(got) ? got : [got]).map((e) => e.id);
    });
    expect(ids).toHaveLength(2000);
    expect(new Set(ids).size).toBe(2000);
    const counts = await waitFor(
      async () => {
        const c = await rowsOf(ids);
        return [...c.values()].every((n) => n > 0) ? c : undefined;
      },
      { timeoutMs: 30_000, what: 'all 2,000 events stored' },
    );
    expect([...counts.values()].filter((n) => n !== 1)).toEqual([]);
    const { rows } = await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM events.events WHERE type = 'com.shop.burst'");
    expect(rows[0].n).toBe(2000);
  }, 60_000);

  describe('CloudEvents HTTP binding', () => {
    it('accepts structured mode: a UUID id is the event id, time and the extensions are read, the rest kept in metadata', async () => {
      const id = randomUUID();
      const functionId = randomUUID();
      const res = await post(
        cloudEvent({ id, time: '2026-03-01T12:00:00+01:00', functionid: functionId, status: 'FAILURE', subject: 'order-7', shop: 'eu' }),
        'application/cloudevents+json; charset=utf-8',
      ).expect(201);
      expect(res.body).toMatchObject({
        id,
        type: 'com.shop.order.placed',
        source: 'https://shop.example/orders',
        timestamp: '2026-03-01T11:00:00.000Z',
        functionId,
        status: 'FAILURE',
        payload: { orderId: 1 },
        metadata: { cloudEvent: { subject: 'order-7', shop: 'eu' } },
      });
      expect(await stored(id)).toEqual(res.body);
    });

    it('stores a CloudEvent sent twice (same source and id, not a UUID) once', async () => {
      const ce = cloudEvent({ id: `order-${randomUUID()}` });
      const first = (await post(ce, STRUCTURED).expect(201)).body as PlatformEvent;
      const again = (await post(ce, STRUCTURED).expect(201)).body as PlatformEvent;
      expect(first.id).toBe(eventIdOf(ce.source, ce.id));
      expect(again.id).toBe(first.id);
      expect(first.metadata).toEqual({ cloudEvent: { id: ce.id } });
      await stored(first.id);
      // A later event stored means the second copy has been through the event store too.
      await stored(((await post({ type: 'com.shop.sentinel' }).expect(201)).body as PlatformEvent).id);
      expect((await rowsOf([first.id])).get(first.id)).toBe(1);
    });

    it('accepts binary mode: ce-* headers (percent-decoded) with a JSON or a text body', async () => {
      const id = randomUUID();
      const res = await api()
        .post('/api/v3/events')
        .set('authorization', `Bearer ${adminKey}`)
        .set('ce-specversion', '1.0')
        .set('ce-id', id)
        .set('ce-source', 'shop%20eu')
        .set('ce-type', 'com.shop.order.placed')
        .set('ce-time', '2026-03-01T12:00:00Z')
        .set('content-type', 'application/json')
        .send(JSON.stringify({ orderId: 9 }))
        .expect(201);
      expect(res.body).toMatchObject({ id, source: 'shop eu', timestamp: '2026-03-01T12:00:00.000Z', payload: { orderId: 9 } });
      expect(res.body.metadata).toEqual({ cloudEvent: { datacontenttype: 'application/json' } });
      const text = await api()
        .post('/api/v3/events')
        .set('authorization', `Bearer ${adminKey}`)
        .set('ce-specversion', '1.0')
        .set('ce-id', randomUUID())
        .set('ce-source', 'shop')
        .set('ce-type', 'com.shop.note')
        .set('content-type', 'text/plain; charset=utf-8')
        .send('hello, shop')
        .expect(201);
      expect(text.body.payload).toBe('hello, shop');
      expect(await stored(id)).toEqual(res.body);
      expect((await stored(text.body.id)).payload).toBe('hello, shop');
    });

    it('answers a batch with its events in order, all stored', async () => {
      const batch = [cloudEvent({ data: { n: 0 } }), cloudEvent({ id: 'not-a-uuid', data: { n: 1 } }), cloudEvent({ type: 'ORDER_PLACED', data: { n: 2 } })];
      const res = await post(batch, BATCH).expect(201);
      const events = res.body as PlatformEvent[];
      expect(events.map((e) => e.payload)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
      expect(events.map((e) => e.id)).toEqual([batch[0].id, eventIdOf(batch[1].source, 'not-a-uuid'), batch[2].id]);
      for (const e of events) expect(await stored(e.id)).toEqual(e);
    });

    it('refuses a batch with one bad CloudEvent as a whole, naming its index and the problem', async () => {
      const good = cloudEvent();
      const res = await post([good, cloudEvent(), cloudEvent({ type: 'FUNCTION_INVOCATION' })], BATCH).expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(res.body.message).toMatch(/^Event 2 of the batch is refused: type FUNCTION_INVOCATION is one of the platform's own event types/);
      expect((await post([good, { ...good }], BATCH).expect(400)).body.message).toBe(
        'Event 1 of the batch is refused: it has the same source and id as event 0',
      );
      // Nothing of a refused batch was published: a later event is stored, the good one of the batch is not.
      await stored(((await post({ type: 'com.shop.sentinel' }).expect(201)).body as PlatformEvent).id);
      expect((await rowsOf([good.id])).get(good.id)).toBe(0);
    });

    it.each([
      [
        'no specversion',
        STRUCTURED,
        cloudEvent({ specversion: undefined }),
        'The CloudEvent is refused: specversion must be "1.0" (CloudEvents 1.0), not null',
      ],
      [
        'no source',
        STRUCTURED,
        cloudEvent({ source: undefined }),
        'The CloudEvent is refused: source is required: a non-empty URI reference saying who produced the event',
      ],
      ['no id', STRUCTURED, cloudEvent({ id: '' }), 'The CloudEvent is refused: id is required: a non-empty string that, with source, identifies the event'],
      [
        'a bad type',
        STRUCTURED,
        cloudEvent({ type: 'order placed' }),
        'The CloudEvent is refused: type "order placed" is not an event type: dot-separated words of letters, digits, _ and -, starting with a letter (e.g. ORDER_PLACED or com.shop.order.placed)',
      ],
      [
        'a bad time',
        STRUCTURED,
        cloudEvent({ time: 'yesterday' }),
        'The CloudEvent is refused: time "yesterday" is not an RFC 3339 date-time (e.g. 2026-01-31T12:00:00Z) between the years 0001 and 9999',
      ],
      [
        'a bad functionid',
        STRUCTURED,
        cloudEvent({ functionid: 'my-fn' }),
        'The CloudEvent is refused: functionid must be a UUID (the function this event concerns)',
      ],
      [
        'data_base64',
        STRUCTURED,
        cloudEvent({ data: undefined, data_base64: 'aGk=' }),
        'The CloudEvent is refused: data_base64 is not accepted: send the data as JSON in "data" (or as text in binary mode)',
      ],
      [
        'a bad extension name',
        STRUCTURED,
        cloudEvent({ Shop_Id: 1 }),
        'The CloudEvent is refused: "Shop_Id" is not a CloudEvents attribute name (lowercase letters and digits, at most 20)',
      ],
      ['an array in structured mode', STRUCTURED, [cloudEvent()], 'The CloudEvent is refused: a CloudEvent must be a JSON object'],
      ['an object as a batch', BATCH, cloudEvent(), `A ${BATCH} body must be a JSON array of CloudEvents`],
      ['an empty batch', BATCH, [], 'The batch is empty: send at least one CloudEvent'],
      [
        'a batch too large',
        BATCH,
        Array.from({ length: MAX_POSTED_BATCH + 1 }, () => cloudEvent()),
        `A batch holds at most ${MAX_POSTED_BATCH} CloudEvents (this one has ${MAX_POSTED_BATCH + 1}); split it into several posts`,
      ],
      ['an array in the JSON form', 'application/json', [{ type: 'OTHER' }], 'The request body must be a JSON object, not an array'],
      ['an unknown field in the JSON form', 'application/json', { type: 'OTHER', id: randomUUID() }, 'unknown field "id"'],
    ])('answers 400 for %s, saying why', async (_what, type, body, message) => {
      expect((await post(body, type).expect(400)).body).toMatchObject({ statusCode: 400, error: 'Bad Request', message });
    });

    it('answers 400 for a body it does not read: not JSON, an unknown content type, binary data that is neither JSON nor text', async () => {
      const auth = { authorization: `Bearer ${adminKey}` };
      expect((await api().post('/api/v3/events').set(auth).set('content-type', STRUCTURED).send('{"specversion":').expect(400)).body.message).toBe(
        'The request body is not valid JSON',
      );
      expect((await api().post('/api/v3/events').set(auth).set('content-type', 'text/plain').send('hello').expect(400)).body.message).toMatch(
        /^Send the event as JSON \(content-type: application\/json\), as a CloudEvent .* this body is text\/plain$/,
      );
      const binary = await api()
        .post('/api/v3/events')
        .set(auth)
        .set({ 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': 'shop', 'ce-type': 'com.shop.blob', 'content-type': 'application/octet-stream' })
        .send(Buffer.from([1, 2, 3]))
        .expect(400);
      expect(binary.body.message).toBe('In binary mode the body must be JSON or text (content-type application/json or text/*), not application/octet-stream');
      expect(
        (await api().post('/api/v3/events').set(auth).set({ 'ce-specversion': '0.3', 'ce-id': '1', 'ce-source': 's', 'ce-type': 'x' }).expect(400)).body
          .message,
      ).toBe('The CloudEvent is refused: specversion must be "1.0" (CloudEvents 1.0), not "0.3"');
    });

    it('asks for an admin key like every management route', async () => {
      expect((await api().post('/api/v3/events').send({ type: 'OTHER' }).expect(401)).body.message).toMatch(/^An API key is required/);
      await api().post('/api/v3/events').set('authorization', 'Bearer nope').send({ type: 'OTHER' }).expect(401);
    });
  });

  it('stores an event posted while the event store is stopped once it is back (the bus keeps it)', async () => {
    await store.stop();
    const single = (await post({ type: 'com.shop.while-down', payload: { n: 1 } }).expect(201)).body as PlatformEvent;
    const batch = (await post([cloudEvent({ type: 'com.shop.while-down' }), cloudEvent({ type: 'com.shop.while-down' })], BATCH).expect(201))
      .body as PlatformEvent[];
    // Not queryable while the store is down (it answers the queries): 503 naming it.
    expect((await api().get(`/api/v3/events/${single.id}`).set('authorization', `Bearer ${adminKey}`)).status).toBe(503);
    store = await ServiceProcess.start('event-store', 'EVENT_STORE_PORT', iso.env);
    for (const e of [single, ...batch]) expect(await stored(e.id, 30_000)).toEqual(e);
    const counts = await rowsOf([single, ...batch].map((e) => e.id));
    expect([...counts.values()]).toEqual([1, 1, 1]);
  }, 90_000);

  it('answers an event posted while RabbitMQ is unreachable once it is spooled, and stores it when the broker is back', async () => {
    // A gateway of its own, reaching RabbitMQ through a proxy the test cuts; a key of HKS_API_KEYS needs no RPC to check.
    const broker = await TcpProxy.forUrl(iso.env.AMQP_URL).start();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'hks-spool-'));
    const cutOff = await startGateway({ ...iso.env, AMQP_URL: broker.url, HKS_DATA_DIR: dataDir, HKS_API_KEYS: 'spool-key', EVENT_PUBLISH_TIMEOUT_MS: '500' });
    try {
      broker.cut();
      const send = (body: unknown, type: string) =>
        request(cutOff.url).post('/api/v3/events').set('x-api-key', 'spool-key').set('content-type', type).send(JSON.stringify(body)).expect(201);
      const single = (await send({ type: 'com.shop.broker-down' }, 'application/json')).body as PlatformEvent;
      const batch = (await send([cloudEvent({ type: 'com.shop.broker-down' })], BATCH)).body as PlatformEvent[];
      expect(await cutOff.app.get(EventPublisher).spooled()).toBe(2);
      broker.restore();
      for (const e of [single, ...batch]) expect(await stored(e.id, 30_000)).toEqual(e);
      await waitFor(async () => (await cutOff.app.get(EventPublisher).spooled()) === 0, { what: 'the spool drained' });
    } finally {
      await cutOff.app.close();
      await broker.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
