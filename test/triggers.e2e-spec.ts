import type { EventPage, FunctionView, PlatformCloudEvent } from '@platform/contracts';
import { api, RunningPlatform, startPlatform } from './support/platform';
import { CloudEvent } from 'cloudevents';

/** Functions run by something other than the invoke API: HTTP routes, user events and schedules. */
describe('triggers end to end', () => {
  let p: RunningPlatform;
  const call = <T = Record<string, unknown>>(method: string, url: string, body?: unknown, headers?: Record<string, string>) =>
    api<T>(p.gatewayUrl, method, url, body, { authorization: `Bearer ${p.adminKey}`, ...headers });

  async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async function deploy(body: Record<string, unknown>): Promise<string> {
    const created = await call<FunctionView>('POST', '/api/v1/functions', body);
    expect(created.status).toBe(201);
    const id = created.body.id;
    await call('POST', `/api/v1/functions/build/${id}`);
    await until(async () => ((await call('GET', `/api/v1/functions/${id}`)).body.status === 'BUILT' ? true : undefined), 'BUILT');
    expect([200, 202]).toContain((await call('POST', `/api/v1/functions/deploy/${id}`)).status);
    await until(async () => ((await call('GET', `/api/v1/functions/${id}`)).body.status === 'READY' ? true : undefined), 'READY');
    return id;
  }

  beforeAll(async () => {
    p = await startPlatform();
  }, 180_000);

  afterAll(async () => {
    await p?.stop();
  }, 60_000);

  it('serves an HTTP-style function at /fn/{label} with the request object and a binary response', async () => {
    await deploy({
      label: 'echo-http',
      runtime: 'python',
      handler: [
        'import base64',
        'def handle(request):',
        "    if request['path'].endswith('/bytes'):",
        "        return {'statusCode': 200, 'headers': {'content-type': 'application/octet-stream'},",
        "                'body': base64.b64encode(bytes([0, 255, 1, 254])).decode(), 'isBase64Encoded': True}",
        "    return {'statusCode': 201, 'headers': {'x-seen-method': request['method']},",
        "            'body': 'hi ' + str(request.get('name')) + ' q=' + request['query'].get('q', '')}",
        '',
      ].join('\n'),
      config: { triggers: [{ type: 'http', methods: ['GET', 'POST'] }] },
    });
    const r = await call('POST', '/fn/echo-http/greet?q=42', { name: 'Alice' });
    expect(r.status).toBe(201);
    expect(r.text).toBe('hi Alice q=42');
    expect(r.headers.get('x-seen-method')).toBe('POST');

    const bytes = await fetch(`${p.gatewayUrl}/fn/echo-http/bytes`, { headers: { authorization: `Bearer ${p.adminKey}` } });
    expect(bytes.status).toBe(200);
    expect([...new Uint8Array(await bytes.arrayBuffer())]).toEqual([0, 255, 1, 254]);
  });

  it('runs the functions subscribed to an event type when such an event is posted', async () => {
    const id = await deploy({
      label: 'on-order',
      runtime: 'node',
      handler: 'module.exports.handle = async (event) => ({ shipped: event.data.orderId, type: event.type });',
      config: {
        triggers: [
          { type: 'event', eventType: 'ORDER_PLACED' },
          { type: 'event', eventType: 'com.shop.order.placed' },
        ],
      },
    });
    const posted = await call('POST', '/api/v3/events', { type: 'ORDER_PLACED', source: 'shop', payload: { orderId: 7 } });
    expect(posted.status).toBe(201);
    // A custom type of its own, dotted (routed as event.com.shop.order.placed.<label>).
    const custom = await call('POST', '/api/v3/events', {
      type: 'com.shop.order.placed',
      source: 'https://shop.example',
      payload: { orderId: 8 },
      functionId: id,
    });
    expect(custom.status).toBe(201);
    expect(custom.body).toMatchObject({ type: 'com.shop.order.placed', source: 'https://shop.example', functionId: id });
    for (const orderId of [7, 8]) {
      const result = await until(async () => {
        const page = await call<EventPage>('GET', `/api/v3/events?functionId=${id}&status=SUCCESS`);
        return page.body.items.find((e) => (e.response as { shipped?: number } | null)?.shipped === orderId);
      }, `the invocation triggered by order ${orderId}`);
      expect(result.type).toBe('FUNCTION_INVOCATION');
      expect(result.metadata?.trigger).toBe('event');
    }
    // Stored from the bus within the ingest lag, not necessarily by the time the trigger ran.
    const byType = await until(async () => {
      const page = await call<EventPage>('GET', '/api/v3/events?type=com.shop.order.placed');
      return page.body.items.length ? page.body : undefined;
    }, 'the posted com.shop.order.placed event stored');
    expect(byType.items.map((e) => e.id)).toEqual([custom.body.id]);
    const refused = await call('POST', '/api/v3/events', { type: 'FUNCTION_INVOCATION' });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/^type FUNCTION_INVOCATION is one of the platform's own event types/);
  }, 60_000);

  it('runs a function on its cron schedule', async () => {
    const id = await deploy({
      label: 'every-second',
      runtime: 'node',
      handler: "module.exports.handle = (event) => ({ tick: event.type === 'hks.schedule.tick' && event.time !== undefined });",
      config: { triggers: [{ type: 'schedule', cron: '* * * * * *', timezone: 'UTC' }] },
    });
    const result = await until(async () => {
      const page = await call<EventPage>('GET', `/api/v3/events?functionId=${id}&status=SUCCESS`);
      return page.body.items.find((e) => e.metadata?.trigger === 'schedule');
    }, 'a scheduled invocation');
    expect(result.response).toEqual({ tick: true });
    // Undeploying removes the schedule.
    expect((await call('DELETE', `/api/v1/functions/deploy/${id}`)).status).toBeLessThan(300);
  }, 60_000);

  it('streams new events to a client as Server-Sent Events, the PENDING event of a slow invocation while it runs', async () => {
    // 3 s: well past the invoker's PENDING threshold (INVOKER_PENDING_EVENT_AFTER_MS, 500 ms), so it records both events.
    const id = await deploy({
      label: 'streamed',
      runtime: 'node',
      handler: 'module.exports.handle = () => new Promise((r) => setTimeout(() => r("ok"), 3000))',
    });
    const controller = new AbortController();
    const res = await fetch(`${p.gatewayUrl}/api/v3/events/stream?functionId=${id}`, {
      signal: controller.signal,
      headers: { authorization: `Bearer ${p.adminKey}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    // Invoke while listening; the PENDING event arrives before the answer, then the SUCCESS event, as CloudEvents.
    const seen: PlatformCloudEvent[] = [];
    const types: string[] = [];
    const reading = (async () => {
      let buffer = '';
      while (seen.filter((e) => e.functionid === id).length < 2) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += Buffer.from(value).toString('utf8');
        let i;
        while ((i = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trim())
            .join('');
          const type = block.split('\n').find((l) => l.startsWith('event:'));
          if (type) types.push(type.slice(6).trim());
          if (data) seen.push(JSON.parse(data) as PlatformCloudEvent);
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const answered = call('POST', `/api/v1/functions/invoke/${id}`, { data: 1 });
    let pendingBeforeAnswer = false;
    void answered.then(() => (pendingBeforeAnswer = seen.some((e) => e.functionid === id && e.status === 'PENDING')));
    expect((await answered).status).toBe(200);
    await Promise.race([reading, new Promise((_, rej) => setTimeout(() => rej(new Error('no events streamed')), 15_000))]);
    await reader.cancel().catch(() => undefined);
    controller.abort();
    expect(seen.map((e) => e.status).sort()).toEqual(['PENDING', 'SUCCESS']);
    expect(pendingBeforeAnswer).toBe(true);
    for (const e of seen) expect(new CloudEvent({ ...e }).validate()).toBe(true);
    expect(seen.map((e) => [e.type, e.subject])).toEqual([
      ['dev.hks.invocation.pending', 'streamed'],
      ['dev.hks.invocation.succeeded', 'streamed'],
    ]);
    expect(types).toEqual(['dev.hks.invocation.pending', 'dev.hks.invocation.succeeded']);
  });
});
