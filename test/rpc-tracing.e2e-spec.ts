import { randomBytes } from 'crypto';
import type { FunctionView } from '@platform/contracts';
import { platformClient, until } from './support/invocations';
import { OtlpReceiver, ReceivedSpan } from './support/otlp-receiver';
import { RunningPlatform, startPlatform } from './support/platform';

jest.setTimeout(60_000);

/**
 * Trace context over the control plane (issue 15): a management call's trace goes from the gateway over RabbitMQ RPC
 * to the registry (the traceparent in the AMQP headers), and from the registry through the BullMQ build job (the
 * traceparent in the job's data) to the builder's span of the build, as an OTLP/HTTP receiver started here sees it.
 */
describe.each(['each', 'one'])('trace context over RPC and build jobs, services in %s process(es)', (processes) => {
  let p: RunningPlatform;
  let otlp: OtlpReceiver;
  const { call } = platformClient(() => p);
  const label = `rpc-traced-${processes}`;
  let fnId = '';

  const caller = () => ({ traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex') });
  const header = (c: { traceId: string; spanId: string }) => ({ traceparent: `00-${c.traceId}-${c.spanId}-01` });

  /** The spans of a trace, once `ready` says the last expected one has arrived. */
  const traceOf = (traceId: string, ready: (spans: ReceivedSpan[]) => boolean, what: string) =>
    until(() => {
      const mine = otlp.spans.filter((s) => s.traceId === traceId);
      return Promise.resolve(ready(mine) ? mine : undefined);
    }, what);

  function only(spans: ReceivedSpan[], pred: (s: ReceivedSpan) => boolean, what: string): ReceivedSpan {
    const found = spans.filter(pred);
    expect({ what, n: found.length }).toEqual({ what, n: 1 });
    return found[0];
  }

  beforeAll(async () => {
    otlp = await OtlpReceiver.start();
    p = await startPlatform({ HKS_PROCESSES: processes, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: '200' });
  }, 300_000);

  afterAll(async () => {
    await p?.stop();
    await otlp?.close();
  }, 60_000);

  it("links the gateway's request span to the registry's RPC span through the AMQP headers", async () => {
    const c = caller();
    const created = await call<FunctionView>(
      'POST',
      '/api/v1/functions',
      { label, runtime: 'python3.11', handler: 'def handle(data):\n    return {"ok": True}\n' },
      header(c),
    );
    expect(created.status).toBe(201);
    fnId = created.body.id;

    const spans = await traceOf(
      c.traceId,
      (s) => s.some((x) => x.service === 'function-registry' && x.name === 'rpc functions.create'),
      "the registry's span of functions.create",
    );
    const request = only(spans, (s) => s.service === 'gateway' && s.kind === 2 && s.parentSpanId === c.spanId, "the gateway's request span");
    expect(request.name).toBe('POST /api/v1/functions');
    expect(request.attributes['http.response.status_code']).toBe(201);
    const client = only(spans, (s) => s.service === 'gateway' && s.name === 'rpc functions.create', "the gateway's RPC client span");
    const server = only(spans, (s) => s.service === 'function-registry' && s.name === 'rpc functions.create', "the registry's RPC server span");
    expect(client.kind).toBe(3); // CLIENT
    expect(client.parentSpanId).toBe(request.spanId);
    expect(client.attributes['rpc.service']).toBe('function-registry');
    expect(server.kind).toBe(2); // SERVER
    expect(server.parentSpanId).toBe(client.spanId);
  });

  it('parents the build span on the API call that queued the build, through the BullMQ job', async () => {
    const c = caller();
    const build = await call('POST', `/api/v1/functions/build/${fnId}`, undefined, header(c));
    expect(build.status).toBe(202);
    await until(async () => ((await call<FunctionView>('GET', `/api/v1/functions/${fnId}`)).body.status === 'BUILT' ? true : undefined), 'the build', 120_000);

    const spans = await traceOf(c.traceId, (s) => s.some((x) => x.service === 'builder' && x.name === `build ${label}`), "the builder's span of the build");
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const built = only(spans, (s) => s.service === 'builder' && s.name === `build ${label}`, "the builder's build span");
    const queued = only(spans, (s) => s.service === 'function-registry' && s.name === 'queue build', "the registry's queue span");
    expect(built.kind).toBe(5); // CONSUMER
    expect(queued.kind).toBe(4); // PRODUCER
    expect(built.parentSpanId).toBe(queued.spanId);
    expect(built.attributes['hks.build_status']).toBe('SUCCEEDED');

    // Up from the queue span: the registry's RPC span, the gateway's RPC client span, then the API call itself.
    const chain: string[] = [];
    for (let s: ReceivedSpan | undefined = queued; s; s = byId.get(s.parentSpanId)) chain.push(`${s.service}: ${s.name}`);
    expect(chain).toEqual([
      'function-registry: queue build',
      'function-registry: rpc functions.build',
      'gateway: rpc functions.build',
      'gateway: POST /api/v1/functions/build/:id',
    ]);
    const request = spans.find((s) => s.name === 'POST /api/v1/functions/build/:id')!;
    expect(request.parentSpanId).toBe(c.spanId);

    // What the builder asks the registry for while building is in the same trace, under the build.
    const source = only(spans, (s) => s.service === 'builder' && s.name === 'rpc functions.build-source', "the builder's RPC for the source");
    expect(source.parentSpanId).toBe(built.spanId);
  }, 180_000);
});
