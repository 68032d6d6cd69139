import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type { IncomingMessage, Server, ServerResponse } from 'http';
import { setTimeout as sleep } from 'timers/promises';
import { performance } from 'perf_hooks';
import { randomUUID } from 'crypto';
import {
  CALLER_HEADER,
  DEBUG_OWNER_HEADER,
  DEBUG_SESSION_HEADER,
  DomainError,
  GATEWAY_CALLER_HEADER,
  NotFoundError,
  pickVersion,
  QUALIFIER_HEADER,
  resolveQualifier,
  splitQualifier,
  INTERNAL_TOKEN_HEADER,
  internalTokenProblem,
  InternalInvocationHeaders,
  InvocationHeaders,
  jsonBytesProblem,
  MAX_JSON_DEPTH,
  SOURCE_TRIGGER_KINDS,
  TRIGGER_HEADER,
  UnauthorizedError,
  ValidationError,
} from '@platform/contracts';
import { InternalCredential, SETTINGS } from '@platform/config';
import { toErrorBody } from '@platform/messaging';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { extractContext, LogContexts, traceparentOf, tracer } from '@platform/observability';
import { functionContract } from '@platform/runtimes';
import { DebugSessions } from '../debug/debug-sessions';
import { Deployed, DeploymentTable } from '../deployments/deployment-table';
import { takeAttemptFacts } from './internal-headers';
import { InvocationFacts, InvocationRecorder, Trigger } from './invocation-recorder';
import { InvocationMetrics } from './invocation-metrics';
import { KnativeProxy } from './knative-proxy';
import { failure, InvocationOutcome } from './outcome';
import { SecretMask } from './secret-mask';
import type { DeploymentOrder } from '../deployments/deployment-request';
import type { InvokerSettingsValues } from '../settings';

const INVOKE_PREFIX = '/invoke/';
const HTTP_PREFIX = '/http/';
const TRIGGERS = new Set<string>(SOURCE_TRIGGER_KINDS);
const TOO_LARGE = Symbol('too large');
/** Past a function's body limit, this much more of an announced body is read and dropped to keep the connection. */
const DISCARD_BYTES = 8 * 1024 * 1024;
/** Of the shutdown grace period, what is kept after cutting running invocations, to hand their events over. */
const FLUSH_RESERVE_MS = 3_000;

/** The request body, or TOO_LARGE as soon as it passes `limit` bytes (announced or sent). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | typeof TOO_LARGE> {
  const announced = Number(req.headers['content-length']);
  if (announced > limit) return Promise.resolve(TOO_LARGE);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        resolve(TOO_LARGE);
      } else chunks.push(c);
    });
    req.on('end', () => resolve(size > limit ? TOO_LARGE : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

const JSON_TYPE = /^\s*application\/([\w.+-]*\+)?json\b/i;

/** Whether the function contract will parse this body as JSON (so it must be bounded first). */
function parsedAsJson(style: 'data' | 'http', contentType: string, body: Buffer): boolean {
  if (body.length === 0) return false;
  if (JSON_TYPE.test(contentType)) return true;
  if (contentType) return false;
  // No content type: data style tries JSON on any text, HTTP style on what looks like an object.
  const first = body.find((c) => c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d);
  return first === 0x7b /* { */ || (style === 'data' && first === 0x5b); /* [ */
}

/**
 * Why a body may not be handed to the function contract: JSON is parsed and then walked recursively
 * (cloned, serialised for the worker and the events), so its nesting is bounded and its text must be
 * clean UTF-8 without NUL. Other bodies go to the handler as they are (text or base64).
 */
export function invocationBodyProblem(style: 'data' | 'http', contentType: string, body: Buffer): string | undefined {
  if (!parsedAsJson(style, contentType, body)) return undefined;
  const problem = jsonBytesProblem(body, MAX_JSON_DEPTH, 'the JSON request body');
  return problem && `${problem} (the invoker's limit for JSON bodies: at most ${MAX_JSON_DEPTH} levels, valid UTF-8, no NUL byte)`;
}

/**
 * The hot path, on plain node http (Nest only serves health and the deployments API):
 * ANY /invoke/:idOrLabel (data style) and ANY /http/:idOrLabel/* (HTTP style).
 */
@Injectable()
export class InvokeServer implements OnModuleDestroy {
  private readonly logger = new Logger(InvokeServer.name);
  /** One mask per deployment order: its secrets' values, replaced in what is recorded of each invocation. */
  private readonly masks = new WeakMap<DeploymentOrder, SecretMask>();
  private readonly graceMs: number;
  private server?: Server;
  private draining = false;
  /** Running invocations: each can be cut short (answered 503) when the shutdown grace period ends. */
  private readonly running = new Set<(outcome: InvocationOutcome) => void>();
  /** Invocations being served (running, or writing their answer). */
  private serving = 0;
  private idle?: () => void;

  constructor(
    private readonly table: DeploymentTable,
    private readonly recorder: InvocationRecorder,
    private readonly knative: KnativeProxy,
    private readonly credential: InternalCredential,
    @Inject(SETTINGS) settings: InvokerSettingsValues,
    private readonly metrics: InvocationMetrics,
    private readonly debug: DebugSessions,
  ) {
    this.graceMs = settings.INVOKER_SHUTDOWN_GRACE_MS;
  }

  /** The HTTP server it serves on: closed to new connections when the invoker drains. */
  attach(server: Server): void {
    this.server = server;
  }

  /** Serves the request when it is an invocation; false lets the next handler (Nest) have it. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '';
    const style = url.startsWith(INVOKE_PREFIX) ? 'data' : url.startsWith(HTTP_PREFIX) ? 'http' : undefined;
    if (!style) return false;
    // Only the gateway and the deployer call here; the credential never reaches the function.
    const given = req.headers[INTERNAL_TOKEN_HEADER];
    delete req.headers[INTERNAL_TOKEN_HEADER];
    if (!this.credential.matches(given)) {
      res.shouldKeepAlive = false;
      this.answerError(res, new UnauthorizedError(internalTokenProblem(given)));
      return true;
    }
    if (this.draining) {
      res.shouldKeepAlive = false;
      this.answerError(res, new DomainError(503, 'the invoker is shutting down and takes no new invocations; send it to another instance or try again'));
      return true;
    }
    this.serving++;
    // Its own log context: every line written for this invocation carries its id (set once known).
    LogContexts.run({}, () => this.serve(req, res, style, url))
      .catch((err) => this.answerError(res, err))
      .finally(() => {
        if (--this.serving === 0) this.idle?.();
      });
    return true;
  }

  /**
   * SIGTERM (Nest's first shutdown hook, before the publisher and the pools close): no new
   * invocations, running ones may finish until FLUSH_RESERVE_MS before the grace period ends, the
   * rest are answered 503 (their events recorded), then every event goes to the broker or stays in
   * the journal for the next start.
   */
  async onModuleDestroy(): Promise<void> {
    const started = Date.now();
    this.draining = true;
    this.server?.close();
    this.server?.closeIdleConnections();
    const cutAt = Math.max(this.graceMs - FLUSH_RESERVE_MS, Math.floor(this.graceMs / 2));
    if (this.serving > 0) {
      this.logger.log(`shutting down: ${this.serving} invocation(s) in flight get up to ${cutAt} ms to finish`);
      const idle = new Promise<void>((resolve) => (this.idle = resolve));
      const timer = new AbortController();
      await Promise.race([idle, sleep(cutAt, undefined, { signal: timer.signal }).catch(() => undefined)]);
      timer.abort();
      if (this.running.size) {
        this.logger.warn(`shutting down: cutting ${this.running.size} invocation(s) still running after ${cutAt} ms`);
        const cut = failure(
          503,
          `the invoker is shutting down: this invocation was still running when its ${cutAt} ms drain period (INVOKER_SHUTDOWN_GRACE_MS) ended, and was stopped; try again`,
          'shutdown',
        );
        for (const stop of [...this.running]) stop(cut);
      }
      await idle;
    }
    const left = Math.max(this.graceMs - (Date.now() - started), 500);
    const flushed = await Promise.race([this.recorder.close().then(() => true), sleep(left, false, { ref: false })]);
    if (!flushed) this.logger.warn('shutting down before the broker confirmed every event: the rest stays in the event journal for the next start');
    this.server?.closeAllConnections();
  }

  private async serve(req: IncomingMessage, res: ServerResponse, style: 'data' | 'http', url: string): Promise<void> {
    const started = performance.now();
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    const qs = q === -1 ? '' : url.slice(q + 1);
    const prefix = style === 'data' ? INVOKE_PREFIX.length : HTTP_PREFIX.length;
    const slash = pathname.indexOf('/', prefix);
    let key: string;
    try {
      key = decodeURIComponent(pathname.slice(prefix, slash === -1 ? undefined : slash));
    } catch {
      throw new ValidationError(`"${pathname}" is not a valid path: its function name is badly percent-encoded`);
    }
    if (key.includes('\u0000')) throw new ValidationError(`"${pathname}" is not a valid path: its function name contains a NUL character`);
    if (!key) throw new ValidationError(`name the function: ${style === 'data' ? '/invoke/<id or label>' : '/http/<id or label>/<path>'}`);
    const { name, qualifier } = splitQualifier(key);
    if (!name) throw new ValidationError(`"${pathname}" is not a valid path: name the function before the ":" of a qualifier`);
    const top = this.table.find(name) ?? (await this.table.resolve(name));
    const chosen = qualifier ?? oneHeader(req.headers[QUALIFIER_HEADER]);
    // An invocation that names a debug session runs on that session's worker (with no time limit), no other does;
    // only for the key that opened it (the gateway passes an admin key's id, and drops the header for any other key).
    const debugSession = oneHeader(req.headers[DEBUG_SESSION_HEADER]);
    const debugOwner = oneHeader(req.headers[DEBUG_OWNER_HEADER]);
    delete req.headers[DEBUG_SESSION_HEADER];
    delete req.headers[DEBUG_OWNER_HEADER];
    let deployed: Deployed;
    let pool: Deployed['pool'];
    if (debugSession === undefined) {
      deployed = chooseVersion(top, chosen, req.headers);
      pool = deployed.pool;
    } else {
      // The session's worker runs the version deployed when it opened: a qualifier cannot pick another, and a
      // traffic split does not apply.
      if (chosen !== undefined) {
        throw new ValidationError(
          `${DEBUG_SESSION_HEADER} runs the version the debug session opened on: invoke the function without a qualifier (":${chosen}" or ${QUALIFIER_HEADER})`,
        );
      }
      const session = this.debug.forInvocation(debugSession, top.order.spec.functionId, debugOwner);
      if (session.source !== top.pool) {
        throw new NotFoundError(`debug session ${debugSession} ended: function ${top.order.spec.label} was redeployed since it opened`);
      }
      deployed = top;
      pool = session.pool;
    }
    // The gateway's word about the caller's key is for choosing the version, not the function's business.
    delete req.headers[GATEWAY_CALLER_HEADER];
    const { spec } = deployed.order;
    const limit = spec.config.resources.maxRequestBytes;
    const header = req.headers[TRIGGER_HEADER];
    // Every caller here holds the internal credential (handle() checked it): an attempt of an async invocation
    // carries its id and number, recorded on its events.
    const attempt = takeAttemptFacts(req.headers);
    const facts: InvocationFacts = {
      functionId: spec.functionId,
      label: spec.label,
      version: spec.version,
      deploymentId: deployed.order.deploymentId,
      invocationId: attempt.invocationId ?? randomUUID(),
      trigger: typeof header === 'string' && TRIGGERS.has(header) ? (header as Trigger) : style === 'data' ? 'api' : 'http',
      ...(attempt.attempt ? { attempt: attempt.attempt } : {}),
    };
    LogContexts.set({ invocationId: facts.invocationId });

    const body = await readBody(req, limit);
    if (body === TOO_LARGE) {
      const size = Number(req.headers['content-length']) || null;
      const outcome = failure(
        413,
        `the request body exceeds function ${spec.label}'s limit of ${limit} bytes (resources.maxRequestBytes)`,
        'payload-too-large',
      );
      this.recorder.started(facts, { method: req.method, contentLength: size }, 0);
      // The client (the gateway, or through it in one process the public client itself) keeps a usable connection:
      // the rest of a body of announced size up to DISCARD_BYTES is read and dropped; anything larger or of unknown
      // size closes the connection once answered.
      if (size !== null && size <= limit + DISCARD_BYTES) req.resume();
      else res.shouldKeepAlive = false;
      return this.answer(res, outcome, facts, started);
    }
    const bodyProblem = invocationBodyProblem(style, String(req.headers['content-type'] ?? ''), body);
    if (bodyProblem) throw new ValidationError(bodyProblem);
    const workerSpanEnd = this.traced(req, res, facts);
    const query = functionContract.parseQuery(qs);
    const rest = slash === -1 ? '/' : pathname.slice(slash);
    let input: unknown;
    if (style === 'data') {
      const data = functionContract.dataInput(query, req.headers, body);
      if (data.error !== undefined) throw new ValidationError(data.error);
      input = data.value;
    } else {
      input = functionContract.httpInput(req.method ?? 'GET', rest, query, req.headers, body);
    }
    this.recorder.started(facts, input, body.length + 2048);
    let run: Promise<InvocationOutcome>;
    try {
      run = pool
        ? pool.invoke(input, facts.invocationId, req.headers.traceparent as string | undefined)
        : this.knative.invoke(deployed.order.url!, spec, {
            style,
            method: req.method ?? 'GET',
            path: rest,
            query: qs,
            headers: req.headers,
            body,
            invocationId: facts.invocationId,
          });
    } catch (err) {
      run = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (workerSpanEnd) run = run.finally(workerSpanEnd);
    let stop!: (outcome: InvocationOutcome) => void;
    const cut = new Promise<InvocationOutcome>((resolve) => (stop = resolve));
    this.running.add(stop);
    let outcome: InvocationOutcome;
    try {
      outcome = await Promise.race([run, cut]);
    } catch (err) {
      // A fault of the invoker itself, not of the function: the invocation still gets its result event (a started one
      // with none would stay PENDING for ever) and the caller a 500 that says so.
      this.logger.error(`invocation ${facts.invocationId} of ${spec.label} failed inside the invoker: ${(err as Error).stack ?? String(err)}`);
      outcome = failure(500, `the invoker failed while running this invocation: ${(err as Error).message ?? String(err)}`, 'crash');
    } finally {
      this.running.delete(stop);
    }
    await this.answer(res, this.masked(outcome, deployed.order), facts, started);
  }

  /**
   * The invoker's span of an invocation (a child of the gateway's, or of the caller's traceparent) and the worker's
   * under it. The function sees the worker span's traceparent (its request header, and `context.traceparent`), so its
   * own outbound calls continue the trace; the events record the invoker span's. Returns what ends the worker span.
   */
  private traced(req: IncomingMessage, res: ServerResponse, facts: InvocationFacts): (() => void) | undefined {
    const parent = extractContext(req.headers);
    const attributes = {
      'faas.invocation_id': facts.invocationId,
      'faas.name': facts.label,
      'faas.version': String(facts.version),
      'faas.trigger': facts.trigger,
    };
    const span = tracer().startSpan(`invoke ${facts.label}`, { kind: SpanKind.SERVER, attributes }, parent);
    const traceparent = traceparentOf(span);
    if (!traceparent) return undefined;
    facts.traceparent = traceparent;
    LogContexts.set({ traceId: span.spanContext().traceId });
    const worker = tracer().startSpan(`worker ${facts.label}`, { kind: SpanKind.CLIENT, attributes }, extractContext({ traceparent }));
    req.headers.traceparent = traceparentOf(worker);
    delete req.headers.tracestate;
    res.setHeader('traceparent', traceparent);
    res.once('close', () => {
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    return () => worker.end();
  }

  /**
   * The outcome with the function's secret values masked in its logs and error, and in the body of a failure (the
   * platform writes that one, quoting the error); what the handler itself returns is left as it is.
   */
  private masked(o: InvocationOutcome, order: DeploymentOrder): InvocationOutcome {
    let mask = this.masks.get(order);
    if (!mask) this.masks.set(order, (mask = new SecretMask(order.env, order.secrets)));
    if (mask.empty) return o;
    const body = o.error === undefined ? o.body : Buffer.from(mask.apply(o.body.toString('utf8')));
    return { ...o, body, logs: mask.apply(o.logs), error: mask.apply(o.error) };
  }

  /** The answer goes out once the invocation's events are durable (the recorder's journal). */
  private async answer(res: ServerResponse, o: InvocationOutcome, facts: InvocationFacts, started: number): Promise<void> {
    const durationMs = performance.now() - started;
    const headers: Record<string, string | string[] | number> = {
      ...withoutPlatformHeaders(o.headers),
      [InvocationHeaders.InvocationId]: facts.invocationId,
      [InvocationHeaders.ColdStart]: o.coldStart ? 'true' : 'false',
      [InvocationHeaders.StartMs]: o.startMs === null ? '0' : String(o.startMs),
      [InvocationHeaders.DurationMs]: durationMs.toFixed(3),
      [InvocationHeaders.FunctionVersion]: String(facts.version),
      'content-length': o.body.length,
    };
    // The deployer tells a timeout or a crash from a handler's own 5xx by this (the gateway's callers see it too).
    if (o.error !== undefined) headers[InternalInvocationHeaders.FailureReason] = o.reason ?? 'error';
    try {
      res.writeHead(o.statusCode, headers);
    } catch (err) {
      // The handler returned a status or header node refuses to send.
      o = failure(502, `function ${facts.functionId} returned an invalid HTTP response: ${(err as Error).message}`, 'error', {
        logs: o.logs,
        coldStart: o.coldStart,
        startMs: o.startMs,
        workerId: o.workerId,
      });
      res.writeHead(o.statusCode, {
        'content-type': 'application/json',
        'content-length': o.body.length,
        [InvocationHeaders.InvocationId]: facts.invocationId,
        [InternalInvocationHeaders.FailureReason]: 'error',
      });
    }
    if (this.draining) res.shouldKeepAlive = false;
    this.metrics.finished(facts.label, o, durationMs);
    this.logger.debug(`${facts.label} v${facts.version} answered ${o.statusCode} in ${durationMs.toFixed(1)} ms${o.coldStart ? ' (cold start)' : ''}`);
    await this.recorder.finished(facts, o, durationMs);
    res.end(o.body);
  }

  private answerError(res: ServerResponse, err: unknown): void {
    try {
      const body = toErrorBody(err, this.logger);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const text = JSON.stringify(body);
      res.writeHead(body.statusCode, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    } catch (failed) {
      this.logger.error(`could not answer a failed request: ${(failed as Error).message}`);
      res.destroy();
    }
  }
}

function oneHeader(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s.trim() === '' ? undefined : s.trim();
}

/**
 * The version an invocation runs: the one its qualifier names (404 when that alias or version is not running), else
 * the traffic split's pick (by the caller's bucket when sticky). Every trigger reaches a function through here.
 */
export function chooseVersion(top: Deployed, qualifier: string | undefined, headers: IncomingMessage['headers']): Deployed {
  const { routing, spec } = top.order;
  const variants = top.variants;
  if (qualifier !== undefined) {
    const v = resolveQualifier(routing, spec.version, qualifier, (n) => (variants ? variants.has(n) : n === spec.version));
    if (typeof v === 'string') throw new NotFoundError(`function ${spec.label}: ${v}`);
    return variants?.get(v) ?? top;
  }
  if (!routing.splits || !variants || variants.size < 2) return top;
  const caller = oneHeader(headers[CALLER_HEADER]) ?? oneHeader(headers[GATEWAY_CALLER_HEADER]);
  return variants.get(pickVersion(routing, spec.version, caller)) ?? top;
}

/** A function's own headers without the platform's x-hks-* ones: a function may not say how its failure is classified. */
function withoutPlatformHeaders(headers: Record<string, string | string[]>): Record<string, string | string[]> {
  for (const name in headers) {
    if (name.toLowerCase().startsWith('x-hks-')) {
      const kept: Record<string, string | string[]> = {};
      for (const [n, v] of Object.entries(headers)) if (!n.toLowerCase().startsWith('x-hks-')) kept[n] = v;
      return kept;
    }
  }
  return headers;
}
