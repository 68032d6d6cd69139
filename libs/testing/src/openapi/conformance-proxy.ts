import * as http from 'http';
import type { AddressInfo, Socket } from 'net';
import { OpenApiDocument } from './openapi-document';
import { ObservedResponse, ResponseCheckOptions, ResponseChecker, Verdict } from './response-check';
import { conformanceReport, summaryText } from './conformance-report';

export interface ConformanceMismatch {
  method: string;
  path: string;
  operation: string;
  status: number;
  contentType?: string;
  problems: string[];
  /** The start of the body, as text. */
  body: string;
}

export interface ConformanceSummary {
  /** Answers checked against the document. */
  checked: number;
  /** Of those, how many were checked by status and content type only (streams, bodies over the limit). */
  statusAndTypeOnly: number;
  /** Answers on purpose not in the document (its own pages, health), not checked. */
  outsideTheApi: number;
  /** Answers the gateway cut off before their end (passed on as cut off, not checked). */
  cutOff: number;
  mismatches: number;
  byOperation: Record<string, { checked: number; mismatches: number }>;
}

export interface ConformanceProxyOptions extends ResponseCheckOptions {
  /** The gateway, e.g. http://127.0.0.1:8080. */
  target: string;
  document: OpenApiDocument;
  /** Bodies up to this size are kept for the schema check; larger ones are checked by status and type. */
  maxBodyBytes?: number;
}

/** Headers of the client's connection to the proxy, not for the proxy's own connection to the gateway. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection']);
const MAX_KEPT_MISMATCHES = 20_000;
const EXCERPT_CHARS = 300;

interface Connection {
  /** One upstream connection per client connection, so keep-alive and closes mirror the gateway's. */
  agent: http.Agent;
  inFlight: number;
  upstreamSockets: WeakSet<Socket>;
}

/**
 * An HTTP proxy in front of the gateway that checks every answer against the gateway's OpenAPI document and
 * passes it on unchanged (streamed, never rewritten). A dead gateway stays dead through it: when the gateway
 * refuses or drops a connection, the client's connection is dropped too; the proxy never answers itself.
 */
export class ConformanceProxy {
  private readonly checker: ResponseChecker;
  private readonly server: http.Server;
  private readonly connections = new Map<Socket, Connection>();
  private readonly found: ConformanceMismatch[] = [];
  private readonly counts: ConformanceSummary = { checked: 0, statusAndTypeOnly: 0, outsideTheApi: 0, cutOff: 0, mismatches: 0, byOperation: {} };
  private readonly host: string;
  private readonly port: number;
  private readonly maxBodyBytes: number;
  url = '';

  private constructor(private readonly options: ConformanceProxyOptions) {
    const target = new URL(options.target);
    this.host = target.hostname;
    this.port = Number(target.port || 80);
    this.maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
    this.checker = new ResponseChecker(options.document, options);
    // Long request lines and headers reach the gateway, which answers them as it does without the proxy.
    this.server = http.createServer({ maxHeaderSize: 1024 * 1024, requestTimeout: 0 });
    // The gateway, not the proxy, decides when an idle connection ends (see accept()).
    this.server.keepAliveTimeout = 10 * 60_000;
    this.server.headersTimeout = 10 * 60_000;
    this.server.on('connection', (socket: Socket) => this.accept(socket));
    this.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.forward(req, res, false));
  }

  static async start(options: ConformanceProxyOptions): Promise<ConformanceProxy> {
    const proxy = new ConformanceProxy(options);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => resolve());
    });
    proxy.url = `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
    return proxy;
  }

  mismatches(): ConformanceMismatch[] {
    return this.found.slice();
  }

  summary(): ConformanceSummary {
    return { ...this.counts, byOperation: Object.fromEntries(Object.entries(this.counts.byOperation).map(([k, v]) => [k, { ...v }])) };
  }

  /** What was checked and how much differs, per operation. */
  summaryText(): string {
    return summaryText(this.options.target, this.summary(), this.maxBodyBytes);
  }

  /** The summary, the counts per operation and the mismatches grouped by kind, as text for a person. */
  report(): string {
    return conformanceReport(this.options.target, this.summary(), this.found, this.maxBodyBytes);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    for (const c of this.connections.values()) c.agent.destroy();
    await closed;
  }

  private accept(socket: Socket): void {
    const connection: Connection = { agent: new http.Agent({ keepAlive: true, maxSockets: 1 }), inFlight: 0, upstreamSockets: new WeakSet() };
    this.connections.set(socket, connection);
    socket.on('close', () => {
      connection.agent.destroy();
      this.connections.delete(socket);
    });
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, retry: boolean): void {
    const connection = this.connections.get(req.socket);
    if (!connection) return void req.socket.destroy();
    const bodyless = !req.headers['transfer-encoding'] && (req.headers['content-length'] === undefined || req.headers['content-length'] === '0');
    if (!retry) {
      connection.inFlight++;
      res.once('close', () => connection.inFlight--);
    }
    const upstream = http.request({
      host: this.host,
      port: this.port,
      method: req.method,
      path: req.url,
      headers: copyHeaders(req.rawHeaders, HOP_BY_HOP),
      agent: connection.agent,
    });
    let answered = false;
    upstream.on('socket', (socket: Socket) => {
      if (connection.upstreamSockets.has(socket)) return;
      connection.upstreamSockets.add(socket);
      // The gateway closed the connection while the client's is idle: close the client's too, as the gateway would.
      socket.once('close', () => {
        if (connection.inFlight === 0) req.socket.destroy();
      });
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      // Once answered, a cut-off answer is dealt with in relay(); a body the gateway no longer read (it answered
      // 413 before the upload ended) is no failure.
      if (answered) return;
      // The gateway closed a kept-alive connection just as this request went out: it never saw it; send it again.
      if (!retry && bodyless && upstream.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) return this.forward(req, res, true);
      // Refused or dropped before an answer: the client sees a dead gateway, not an answer made up here.
      req.socket.destroy();
    });
    upstream.on('response', (answer: http.IncomingMessage) => {
      answered = true;
      this.relay(req, res, answer);
    });
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    if (bodyless) {
      upstream.end();
      req.resume();
    } else {
      req.pipe(upstream);
    }
  }

  private relay(req: http.IncomingMessage, res: http.ServerResponse, answer: http.IncomingMessage): void {
    const status = answer.statusCode ?? 0;
    // Every header as the gateway sent it, Connection and Keep-Alive included: the client's connection lives as
    // long as the gateway says.
    res.writeHead(status, answer.statusMessage, copyHeaders(answer.rawHeaders, new Set()));
    const contentType = answer.headers['content-type'];
    const observed: ObservedResponse = { method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0], status, contentType, hasBody: true };
    // A stream never ends by itself: check what its headers say, and pass it on without keeping any of it.
    const stream = contentType?.split(';')[0].trim().toLowerCase() === 'text/event-stream';
    if (stream) this.record(observed);
    let kept: Buffer[] | undefined = stream ? undefined : [];
    let size = 0;
    answer.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (kept && size > this.maxBodyBytes) kept = undefined;
      kept?.push(chunk);
    });
    answer.on('end', () => {
      if (!stream) this.record({ ...observed, hasBody: size > 0, body: kept && Buffer.concat(kept) });
    });
    answer.on('close', () => {
      if (answer.complete) return;
      this.counts.cutOff++;
      res.destroy();
    });
    answer.pipe(res);
  }

  private record(observed: ObservedResponse): void {
    let verdict: Verdict;
    try {
      verdict = this.checker.check(observed);
    } catch (err) {
      verdict = { operation: '(checker failure)', depth: 'status-and-type', problems: [`the check itself failed: ${(err as Error).stack}`] };
    }
    if (verdict.depth === 'outside-the-api') {
      this.counts.outsideTheApi++;
      return;
    }
    this.counts.checked++;
    if (verdict.depth === 'status-and-type') this.counts.statusAndTypeOnly++;
    const op = (this.counts.byOperation[verdict.operation] ??= { checked: 0, mismatches: 0 });
    op.checked++;
    if (verdict.problems.length === 0) return;
    op.mismatches++;
    this.counts.mismatches++;
    if (this.found.length >= MAX_KEPT_MISMATCHES) return;
    const body = observed.body
      ? observed.body
          .subarray(0, EXCERPT_CHARS * 4)
          .toString('utf8')
          .slice(0, EXCERPT_CHARS)
      : observed.hasBody
        ? '(not kept: a stream or a large body)'
        : '';
    this.found.push({
      method: observed.method,
      path: observed.path.length > 200 ? `${observed.path.slice(0, 200)}…` : observed.path,
      operation: verdict.operation,
      status: observed.status,
      contentType: observed.contentType,
      problems: verdict.problems,
      body,
    });
  }
}

/** Raw header pairs as Node's header object, repeated headers kept as arrays (Node takes no raw list here). */
function copyHeaders(raw: string[], skip: Set<string>): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (skip.has(name)) continue;
    const seen = headers[name];
    headers[name] = seen === undefined ? raw[i + 1] : [...[seen].flat(), raw[i + 1]];
  }
  return headers;
}
