import { Context, context, isSpanContextValid, propagation, ROOT_CONTEXT, Span, SpanOptions, trace, Tracer, TracerProvider } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { LogContexts } from '../logging/log-context';

/** Each service's provider: its own resource (service.name), the process's one exporter. */
const providers = new Map<string, NodeTracerProvider>();
let firstService: string | undefined;
let exporting: SpanProcessor | undefined;
let installed = false;

/**
 * The global tracer provider: hands each span to the provider of the service whose code is running (LogContexts),
 * so in one process (six services) every span still names its own service; alone in its process a service is the
 * only one.
 */
class ServiceTracerProvider implements TracerProvider {
  getTracer(name: string, version?: string): Tracer {
    const of = (): Tracer => {
      // Installed by startTracing together with the first service's provider: there is always one.
      const provider = providers.get(LogContexts.current()?.service ?? '') ?? providers.get(firstService!)!;
      return provider.getTracer(name, version);
    };
    return {
      startSpan: (spanName: string, options?: SpanOptions, ctx?: Context) => of().startSpan(spanName, options, ctx),
      startActiveSpan: ((...args: Parameters<Tracer['startActiveSpan']>) =>
        (of().startActiveSpan as (...a: unknown[]) => unknown)(...args)) as Tracer['startActiveSpan'],
    };
  }
}

/**
 * Turns tracing on for a service (startService calls it): W3C trace context propagation and spans always (their ids
 * go on logs, events and the answers); exported over OTLP/HTTP (JSON) when OTEL_EXPORTER_OTLP_ENDPOINT (or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, batched as OTEL_BSP_* say.
 */
export function startTracing(service: string, env: NodeJS.ProcessEnv = process.env): void {
  if (!installed) {
    installed = true;
    if (env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) exporting = new BatchSpanProcessor(new OTLPTraceExporter());
    // NodeTracerProvider.register sets the async context manager and the propagator; the tracer provider it would
    // also set is ours, set first (the API keeps the first one).
    trace.setGlobalTracerProvider(new ServiceTracerProvider());
    new NodeTracerProvider().register({ propagator: new W3CTraceContextPropagator() });
  }
  firstService ??= service;
  if (providers.has(service)) return;
  providers.set(
    service,
    new NodeTracerProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: service, 'service.namespace': 'hks' }),
      spanProcessors: exporting ? [exporting] : [],
    }),
  );
}

/** Sends what is batched (a service's shutdown). */
export async function flushTracing(): Promise<void> {
  await exporting?.forceFlush();
}

/** The platform's tracer: spans of the service whose code runs. */
export const tracer = (): Tracer => trace.getTracer('hks');

/** The trace context a carrier (HTTP headers, AMQP headers, job data) holds, or the root one. */
export function extractContext(carrier: Record<string, unknown> | undefined): Context {
  return carrier ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
}

/** The W3C traceparent of a span, or undefined when it is not a real one (tracing off). */
export function traceparentOf(span: Span): string | undefined {
  const c = span.spanContext();
  if (!isSpanContextValid(c)) return undefined;
  return `00-${c.traceId}-${c.spanId}-0${(c.traceFlags & 1).toString(16)}`;
}

/** Runs `fn` with `span` active (its children and the log lines written meanwhile get its ids). */
export function withSpan<T>(span: Span, fn: () => T, parent: Context = context.active()): T {
  return context.with(trace.setSpan(parent, span), fn);
}
