import { randomBytes } from 'crypto';
import { execFile } from 'child_process';
import { promisify } from 'util';
import * as path from 'path';
import type { EventPage } from '@platform/contracts';
import { platformClient, until } from './support/invocations';
import { OtlpReceiver, ReceivedSpan } from './support/otlp-receiver';
import { RunningPlatform, startPlatform } from './support/platform';

jest.setTimeout(60_000);
const BIN = path.resolve(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');

/**
 * OpenTelemetry traces (issue 15): one invocation sent with a W3C traceparent gives a trace that an OTLP/HTTP receiver
 * started by the test gets, with the spans of gateway, invoker, worker and event store linked parent to child; the
 * handler gets the worker span's traceparent; the answer carries the trace back; the events and `hks function logs`
 * show its id.
 */
describe.each(['one', 'each'])('traces, services in %s process(es)', (processes) => {
  let p: RunningPlatform;
  let otlp: OtlpReceiver;
  const { call, deploy } = platformClient(() => p);
  let fnId = '';
  const label = `traced-${processes}`;

  beforeAll(async () => {
    otlp = await OtlpReceiver.start();
    p = await startPlatform({ HKS_PROCESSES: processes, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: '200' });
    fnId = await deploy({
      label,
      runtime: 'node',
      handler:
        'module.exports.handle = async (input, context) => ({ traceparent: context.traceparent, header: input && input.headers ? input.headers.traceparent : null });\n',
    });
  }, 300_000);

  afterAll(async () => {
    await p?.stop();
    await otlp?.close();
  }, 60_000);

  it("links gateway -> invoker -> worker -> event store under the caller's traceparent, and hands the handler its span", async () => {
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const r = await call<{ traceparent: string; header: string }>('GET', `/fn/${label}/x`, undefined, { traceparent: `00-${traceId}-${callerSpan}-01` });
    expect(r.status).toBe(200);
    const answered = r.headers.get('traceparent')!;
    expect(answered).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    const invocationId = r.headers.get('x-invocation-id')!;

    const spans = await until(() => {
      const mine = otlp.spans.filter((s) => s.traceId === traceId);
      return Promise.resolve(mine.some((s) => s.name === 'store event') ? mine : undefined);
    }, 'the trace at the OTLP receiver');
    const one = (pred: (s: ReceivedSpan) => boolean, what: string) => {
      const found = spans.filter(pred);
      expect({ what, n: found.length }).toEqual({ what, n: 1 });
      return found[0];
    };
    const gateway = one((s) => s.service === 'gateway', 'gateway span');
    const invoker = one((s) => s.service === 'invoker' && s.name === `invoke ${label}`, 'invoker span');
    const worker = one((s) => s.service === 'invoker' && s.name === `worker ${label}`, 'worker span');
    const stored = spans.filter((s) => s.service === 'event-store' && s.name === 'store event');
    expect(gateway.parentSpanId).toBe(callerSpan);
    expect(invoker.parentSpanId).toBe(gateway.spanId);
    expect(worker.parentSpanId).toBe(invoker.spanId);
    expect(stored.length).toBeGreaterThanOrEqual(1);
    for (const s of stored) expect(s.parentSpanId).toBe(invoker.spanId);
    expect(invoker.attributes['faas.invocation_id']).toBe(invocationId);
    // The handler got the worker span as its parent, in its context and in the request's header.
    expect(r.body.traceparent).toBe(`00-${traceId}-${worker.spanId}-01`);
    expect(r.body.header).toBe(r.body.traceparent);

    // The invocation's events carry the trace id, and `hks function logs` shows it.
    const events = await until(async () => {
      const page = await call<EventPage>('GET', `/api/v3/events?invocationId=${invocationId}`);
      return page.status === 200 && page.body.items.length ? page.body.items : undefined;
    }, 'the invocation event');
    expect(events.map((e) => (e.metadata as { traceId?: string }).traceId)).toEqual(events.map(() => traceId));
    // Asynchronously: the conformance proxy in this process must go on answering while the CLI runs.
    const cli = await promisify(execFile)(process.execPath, [BIN, 'function', 'logs', label], {
      env: { ...process.env, HKS_GATEWAY_URL: p.gatewayUrl, HKS_API_KEY: p.adminKey, HKS_CONFIG: '/nonexistent' },
      encoding: 'utf8',
    });
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toContain(`trace ${traceId}`);
  });

  it('starts a trace for a call that brings none, and returns it', async () => {
    const r = await call('POST', `/api/v1/functions/invoke/${fnId}`, { data: 1 });
    expect(r.status).toBe(200);
    const tp = r.headers.get('traceparent')!;
    expect(tp).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const traceId = tp.slice(3, 35);
    // Each service exports its spans on its own schedule: the gateway's can come after the invoker's.
    const gateway = await until(() => Promise.resolve(otlp.spans.find((s) => s.traceId === traceId && s.service === 'gateway')), "the gateway's span");
    expect(gateway.parentSpanId).toBe('');
    // The invoker's span of the invocation (its worker span, a child of it, often ends and arrives first).
    const isInvoke = (s: ReceivedSpan) => s.traceId === traceId && s.service === 'invoker' && s.name === `invoke ${label}`;
    await until(() => Promise.resolve(otlp.spans.some(isInvoke) ? true : undefined), 'its spans');
    expect(otlp.spans.find(isInvoke)!.parentSpanId).toBe(gateway.spanId);
  });
});
