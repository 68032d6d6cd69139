import { Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'http';
import { performance } from 'perf_hooks';
import { randomUUID } from 'crypto';
import { INTERNAL_TOKEN_HEADER, internalTokenProblem, InvocationHeaders, TRIGGER_HEADER, UnauthorizedError, ValidationError } from '@platform/contracts';
import { InternalCredential } from '@platform/config';
import { toErrorBody } from '@platform/messaging';
import { functionContract } from '@platform/runtimes';
import { Deployed, DeploymentTable } from '../deployments/deployment-table';
import { InvocationFacts, InvocationRecorder, Trigger } from './invocation-recorder';
import { KnativeProxy } from './knative-proxy';
import { failure, InvocationOutcome } from './outcome';
import { SecretMask } from './secret-mask';
import type { DeploymentOrder } from '../deployments/deployment-request';

const INVOKE_PREFIX = '/invoke/';
const HTTP_PREFIX = '/http/';
const TRIGGERS = new Set(['schedule', 'queue', 'event']);
const TOO_LARGE = Symbol('too large');

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

/**
 * The hot path, on plain node http (Nest only serves health and the deployments API):
 * ANY /invoke/:idOrLabel (data style) and ANY /http/:idOrLabel/* (HTTP style).
 */
@Injectable()
export class InvokeServer {
  private readonly logger = new Logger(InvokeServer.name);
  /** One mask per deployment order: its secrets' values, replaced in what is recorded of each invocation. */
  private readonly masks = new WeakMap<DeploymentOrder, SecretMask>();

  constructor(
    private readonly table: DeploymentTable,
    private readonly recorder: InvocationRecorder,
    private readonly knative: KnativeProxy,
    private readonly credential: InternalCredential,
  ) {}

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
    this.serve(req, res, style, url).catch((err) => this.answerError(res, err));
    return true;
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
    if (!key) throw new ValidationError(`name the function: ${style === 'data' ? '/invoke/<id or label>' : '/http/<id or label>/<path>'}`);
    const deployed = this.table.find(key) ?? (await this.table.resolve(key));
    const { spec } = deployed.order;
    const limit = spec.config.resources.maxRequestBytes;
    const header = req.headers[TRIGGER_HEADER];
    const facts: InvocationFacts = {
      functionId: spec.functionId,
      version: spec.version,
      deploymentId: deployed.order.deploymentId,
      invocationId: randomUUID(),
      trigger: typeof header === 'string' && TRIGGERS.has(header) ? (header as Trigger) : style === 'data' ? 'api' : 'http',
    };

    const body = await readBody(req, limit);
    if (body === TOO_LARGE) {
      const size = Number(req.headers['content-length']) || null;
      const outcome = failure(413, `the request body exceeds function ${spec.label}'s limit of ${limit} bytes (resources.maxRequestBytes)`, 'payload-too-large');
      this.recorder.pending(facts, { method: req.method, contentLength: size }, 0);
      res.shouldKeepAlive = false;
      return this.answer(res, outcome, facts, started);
    }
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
    this.recorder.pending(facts, input, body.length + 2048);
    const outcome = deployed.pool
      ? await deployed.pool.invoke(input, facts.invocationId)
      : await this.knative.invoke(deployed.order.url!, spec, { style, method: req.method ?? 'GET', path: rest, query: qs, headers: req.headers, body, invocationId: facts.invocationId });
    this.answer(res, this.masked(outcome, deployed.order), facts, started);
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

  private answer(res: ServerResponse, o: InvocationOutcome, facts: InvocationFacts, started: number): void {
    const durationMs = performance.now() - started;
    const headers: Record<string, string | string[] | number> = {
      ...o.headers,
      [InvocationHeaders.InvocationId]: facts.invocationId,
      [InvocationHeaders.ColdStart]: o.coldStart ? 'true' : 'false',
      [InvocationHeaders.StartMs]: o.startMs === null ? '0' : String(o.startMs),
      [InvocationHeaders.DurationMs]: durationMs.toFixed(3),
      'content-length': o.body.length,
    };
    try {
      res.writeHead(o.statusCode, headers);
    } catch (err) {
      // The handler returned a status or header node refuses to send.
      o = failure(502, `function ${facts.functionId} returned an invalid HTTP response: ${(err as Error).message}`, 'error', { logs: o.logs, coldStart: o.coldStart, startMs: o.startMs, workerId: o.workerId });
      res.writeHead(o.statusCode, { 'content-type': 'application/json', 'content-length': o.body.length, [InvocationHeaders.InvocationId]: facts.invocationId });
    }
    res.end(o.body);
    this.recorder.finished(facts, o, durationMs);
  }

  private answerError(res: ServerResponse, err: unknown): void {
    const body = toErrorBody(err, this.logger);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(body.statusCode, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}
