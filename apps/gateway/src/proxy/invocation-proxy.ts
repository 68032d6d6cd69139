import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import * as http from 'http';
import { InternalCredential, SETTINGS } from '@platform/config';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { extractContext, InProcessHttp, traceparentOf, tracer } from '@platform/observability';
import { toDomainError } from '@platform/messaging';
import {
  CALLER_HEADER,
  DEBUG_OWNER_HEADER,
  DEBUG_SESSION_HEADER,
  ErrorBody,
  FunctionRouteWords,
  FUNCTIONS_PATH,
  GATEWAY_CALLER_HEADER,
  QUALIFIER_HEADER,
  qualifierProblem,
  splitQualifier,
  wantsAsync,
} from '@platform/contracts';
import { FunctionAccess, FunctionAuthCache } from '../access/function-auth.cache';
import { GatewayAccess, sendError } from '../access/gateway-access';
import { GatewaySettingsValues } from '../settings';
import { AsyncAccept } from './async-accept';
import { RouteDecision, RouteTable } from './http-routes';

export const INVOKE_PREFIX = `${FUNCTIONS_PATH}/${FunctionRouteWords.invoke}/`;
export const HTTP_PREFIX = '/fn/';
/** Headers that describe one hop, never forwarded. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authorization'];
/** What a function id or label can be; control characters (Unicode Cc), slashes and backslashes never are. */
const NAME = /^[^\p{Cc}/\\?#]+$/u;
/** The API key id of each authenticated invocation, for sticky splits. */
const callers = new WeakMap<http.IncomingMessage, string>();
/** The API key id of each invocation made with an admin key: the only ones whose x-debug-session is passed on. */
const debuggers = new WeakMap<http.IncomingMessage, string>();
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ETIMEDOUT']);

/**
 * The invocation hot path: ANY /api/v1/functions/invoke/{id}[/...] -> INVOKER_URL/invoke/{id}[/...] and
 * ANY /fn/{label}[/...] -> INVOKER_URL/http/{label}[/...]. It runs in front of Express and Nest (no
 * routing, body parsing, pipes or interceptors) and streams both bodies over a keep-alive agent.
 */
@Injectable()
export class InvocationProxy implements OnApplicationShutdown {
  private readonly logger = new Logger(InvocationProxy.name);
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;
  private readonly basePath: string;
  private readonly invoker: string;
  private readonly invokerUrl: URL;

  constructor(
    @Inject(SETTINGS) settings: GatewaySettingsValues,
    private readonly access: GatewayAccess,
    private readonly functionAuth: FunctionAuthCache,
    private readonly credential: InternalCredential,
    private readonly asyncAccept: AsyncAccept,
  ) {
    const url = new URL(settings.INVOKER_URL);
    if (url.protocol !== 'http:') throw new Error(`INVOKER_URL=${settings.INVOKER_URL} must be an http:// URL`);
    this.host = url.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(url.port || 80);
    this.basePath = url.pathname.replace(/\/$/, '');
    this.invoker = settings.INVOKER_URL;
    this.invokerUrl = url;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo' });
  }

  /**
   * True when the request is an invocation and has been taken care of. Only the exact spelling of the two
   * prefixes, followed by a plain function name, is taken; anything else goes on to Express, whose router
   * knows no invocation route (404) and whose guard checks every route it does know.
   */
  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const url = req.url ?? '';
    const prefix = url.startsWith(INVOKE_PREFIX) ? INVOKE_PREFIX : url.startsWith(HTTP_PREFIX) ? HTTP_PREFIX : undefined;
    if (!prefix) return false;
    let rest = url.slice(prefix.length);
    const full = plainName(nameOf(rest));
    if (full === undefined) return false;
    // {label}:{qualifier}: access is checked on the function; the invoker runs the version the qualifier names.
    const { name, qualifier } = splitQualifier(full);
    if (qualifier !== undefined && (!name || !plainName(name))) return false;
    // One rule for both spellings, before anything else: a malformed qualifier is the caller's mistake (400).
    const asked = qualifier ?? headerQualifier(req.headers[QUALIFIER_HEADER]);
    const problem = asked === undefined ? undefined : qualifierProblem(asked);
    if (problem) {
      this.refuse(req, res, { statusCode: 400, error: 'Bad Request', message: problem });
      return true;
    }
    if (qualifier !== undefined) {
      req.headers[QUALIFIER_HEADER] = qualifier;
      rest = encodeURIComponent(name) + rest.slice(nameOf(rest).length);
    }
    if (prefix === INVOKE_PREFIX) void this.authorise(req, res, name, rest, false);
    else void this.authorise(req, res, name, rest, true, asked);
    return true;
  }

  /**
   * An admin key, or an invoke key that names the function (by id; a label is resolved to its id), may
   * invoke it. `byTrigger`: /fn/{label}{path}, served as the function's http triggers say (HttpRoutes): a request
   * an auth "none" trigger takes needs no key; a path none serves is a 404, a method it does not take a 405. Those
   * refusals need no key either when the function has an open trigger (it is public); otherwise they come only
   * after the key, so nothing about a protected function is told to a caller without one.
   */
  private async authorise(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    name: string,
    rest: string,
    byTrigger: boolean,
    qualifier?: string,
  ): Promise<void> {
    let access: FunctionAccess | undefined;
    let decision: RouteDecision | undefined;
    try {
      if (byTrigger) {
        access = await this.functionAuth.accessOf(name);
        if (access.known) {
          // A qualifier picks the version that runs, so that version's triggers say what is open. Without one, those of
          // the version(s) deployed (a split picks one in the invoker, per invocation: open only if open in all).
          const routes: RouteTable = qualifier === undefined ? access.routes : await this.functionAuth.routesOf(access, qualifier);
          decision = routes.decide(req.method ?? 'GET', pathAfterName(rest));
          if (decision.serve && decision.open) {
            if (await this.access.admit(req, res)) this.run(req, res, name, rest, byTrigger, false);
            else req.resume();
            return;
          }
          if (!decision.serve && routes.public) return this.refuse(req, res, decision.body, decision.headers);
        }
      }
      const auth = await this.access.authenticate(req);
      if (!auth.ok) return this.refuse(req, res, auth.body, auth.headers);
      const p = auth.principal;
      if (p.scope !== 'admin' && !p.functions.includes(name)) {
        access ??= await this.functionAuth.accessOf(name);
        if (!access.known || !p.functions.includes(access.id)) {
          return this.refuse(req, res, { statusCode: 403, error: 'Forbidden', message: `This API key may not invoke function ${name}` });
        }
      }
      if (decision && !decision.serve) return this.refuse(req, res, decision.body, decision.headers);
      callers.set(req, p.id);
      if (p.scope === 'admin') debuggers.set(req, p.id);
      if (await this.access.admit(req, res, p)) this.run(req, res, name, rest, byTrigger, true);
      else req.resume();
    } catch (err) {
      const e = toDomainError(err, 'function-registry', 0) as { message: string };
      this.refuse(req, res, { statusCode: 503, error: 'Service Unavailable', message: `cannot check access to function ${name}: ${e.message}` });
    }
  }

  /** An authorised invocation: accepted to run later (202) when it asks to be asynchronous, else forwarded to the invoker. */
  private run(req: http.IncomingMessage, res: http.ServerResponse, name: string, rest: string, byTrigger: boolean, stripKey: boolean): void {
    // A debug session (opened with an admin key) serves only its own key's invocations: any other caller's
    // x-debug-session is dropped (its invocation runs as usual); the invoker checks the key id passed with it.
    if (!debuggers.has(req)) delete req.headers[DEBUG_SESSION_HEADER];
    else if (req.headers[DEBUG_SESSION_HEADER] !== undefined && wantsAsync(req.headers)) {
      return this.refuse(req, res, {
        statusCode: 400,
        error: 'Bad Request',
        message: `${DEBUG_SESSION_HEADER} is for synchronous invocations: the debug worker serves the call that waits for it, not an asynchronous one`,
      });
    }
    if (wantsAsync(req.headers)) void this.asyncAccept.accept(req, res, { name, rest, style: byTrigger ? 'http' : 'data' });
    else this.forward(req, res, byTrigger ? `/http/${rest}` : `/invoke/${rest}`, stripKey);
  }

  private refuse(req: http.IncomingMessage, res: http.ServerResponse, body: ErrorBody, headers: Record<string, string> = {}): void {
    sendError(res, body, headers);
    req.resume();
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, path: string, stripKey: boolean, retried = false): void {
    const headers: http.OutgoingHttpHeaders = { ...req.headers };
    for (const h of HOP_BY_HOP) delete headers[h];
    // x-hks-* headers are the platform's own (the internal credential, an async attempt's id): never a client's.
    for (const h in headers) if (h.startsWith('x-hks-')) delete headers[h];
    if (stripKey) {
      // The platform's key is not the function's business.
      delete headers.authorization;
      delete headers['x-api-key'];
    }
    const remote = req.socket.remoteAddress;
    const fwd = req.headers['x-forwarded-for'];
    if (remote) headers['x-forwarded-for'] = fwd ? `${fwd}, ${remote}` : remote;
    if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
    headers['x-forwarded-proto'] = 'http';
    Object.assign(headers, this.credential.header());
    // A sticky split keeps a caller on one version: by its X-Caller-Id, else by its API key.
    const caller = callers.get(req);
    if (caller && !headers[CALLER_HEADER]) headers[GATEWAY_CALLER_HEADER] = caller;
    const debugger_ = debuggers.get(req);
    if (debugger_ && headers[DEBUG_SESSION_HEADER] !== undefined) headers[DEBUG_OWNER_HEADER] = debugger_;
    else delete headers[DEBUG_SESSION_HEADER];
    if (!retried) this.traced(req, res, headers, path);

    // The invoker in this same process (the local default): its handler takes the request and answers it, no hop.
    const local = InProcessHttp.find(this.invokerUrl);
    if (local) {
      req.url = path;
      req.headers = headers as http.IncomingHttpHeaders;
      local(req, res);
      return;
    }

    let upstream: http.ClientRequest;
    let answered = false;
    try {
      upstream = http.request({ host: this.host, port: this.port, method: req.method, path: this.basePath + path, headers, agent: this.agent }, (answer) => {
        answered = true;
        this.answer(answer, res);
      });
    } catch (err) {
      // Node refuses to send some requests (e.g. a path with characters it will not write): the client's fault.
      sendError(res, { statusCode: 400, error: 'Bad Request', message: `the request cannot be forwarded: ${(err as Error).message}` });
      req.resume();
      return;
    }
    const bodyless = req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      // A kept-alive socket the invoker closed just as it was reused: safe to retry once when nothing was sent.
      if (!retried && bodyless && upstream.reusedSocket && err.code === 'ECONNRESET' && !res.headersSent) {
        this.forward(req, res, path, stripKey, true);
        return;
      }
      // The invoker answered (a 413, say) and closed while the body was still coming: its answer stands.
      if (answered) {
        req.unpipe(upstream);
        req.resume();
        return;
      }
      if (res.headersSent) {
        res.destroy(err);
        return;
      }
      const code = err.code ?? err.message;
      const body = UNREACHABLE.has(err.code ?? '')
        ? { statusCode: 503, error: 'Service Unavailable', message: `the invoker at ${this.invoker} is unreachable (${code}); is it running?` }
        : { statusCode: 502, error: 'Bad Gateway', message: `the invoker at ${this.invoker} failed to answer (${code})` };
      this.logger.warn(body.message);
      sendError(res, body);
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    if (bodyless || retried) upstream.end();
    else req.pipe(upstream);
  }

  /**
   * The gateway's span of a synchronous invocation: a child of the caller's `traceparent` when it sent one; the
   * invoker gets this span as its parent, and the caller gets the trace back (the answer's `traceparent`).
   */
  private traced(req: http.IncomingMessage, res: http.ServerResponse, headers: http.OutgoingHttpHeaders, path: string): void {
    const parent = extractContext(req.headers);
    const span = tracer().startSpan(
      `${req.method} ${path.slice(0, path.indexOf('/', 1) + 1)}{function}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': req.method ?? 'GET', 'url.path': path },
      },
      parent,
    );
    const traceparent = traceparentOf(span);
    if (!traceparent) return;
    headers.traceparent = traceparent;
    delete headers.tracestate;
    res.setHeader('traceparent', traceparent);
    res.once('close', () => {
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
  }

  private answer(answer: http.IncomingMessage, res: http.ServerResponse): void {
    const out: http.OutgoingHttpHeaders = { ...answer.headers };
    for (const h of HOP_BY_HOP) delete out[h];
    res.writeHead(answer.statusCode ?? 502, out);
    // Sends the status and headers at once, so a streamed answer reaches the client as it comes.
    if (!answer.headers['content-length']) res.flushHeaders();
    answer.pipe(res);
    answer.on('error', () => res.destroy());
  }

  onApplicationShutdown(): void {
    this.agent.destroy();
  }
}

/** The decoded function name, or undefined for anything that is not one (empty, a dot segment, an encoded "/", bad encoding). */
function plainName(raw: string): string | undefined {
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  if (name === '.' || name === '..' || !NAME.test(name)) return undefined;
  return name;
}

/** `{name}[/path][?query]` -> `[/path]`, as sent (percent-encoded). */
function pathAfterName(rest: string): string {
  let q = rest.indexOf('?');
  if (q === -1) q = rest.length;
  const slash = rest.indexOf('/');
  return slash === -1 || slash > q ? '' : rest.slice(slash, q);
}

/** The X-Function-Qualifier a client sent (trimmed), or undefined for none or an empty one (as the invoker reads it). */
function headerQualifier(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s.trim() === '' ? undefined : s.trim();
}

function nameOf(rest: string): string {
  let end = rest.length;
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if (c === 47 || c === 63) {
      end = i;
      break;
    }
  }
  return rest.slice(0, end);
}
