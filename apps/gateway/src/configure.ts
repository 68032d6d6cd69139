import { INestApplication } from '@nestjs/common';
import { SwaggerModule } from '@nestjs/swagger';
import { context, SpanKind, trace } from '@opentelemetry/api';
import express, { NextFunction, Request, Response } from 'express';
import type { IncomingMessage, Server, ServerResponse } from 'http';
import type { Duplex } from 'stream';
import { SETTINGS } from '@platform/config';
import { DOCS_PATH, httpReason } from '@platform/contracts';
import { httpValidationPipe } from '@platform/messaging';
import { extractContext, tracer } from '@platform/observability';
import { sendError } from './access/gateway-access';
import { ConsoleRoute } from './console/console-route';
import { DebugSocketRoute } from './debug/debug-socket.route';
import { bodyProblem, urlProblem, verifyJsonBody } from './access/request-text';
import { apiDocument } from './docs/api-document';
import { PostedEventsRoute } from './events/posted-events.route';
import { InvocationProxy } from './proxy/invocation-proxy';
import { GatewaySettingsValues } from './settings';

/** Under /api/v1/functions, so the documentation's words are reserved labels too (DOCS_PATH). */
export const SWAGGER_PATH = DOCS_PATH.slice(1);

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Everything main.ts adds to the Nest app before it listens; the integration tests use it as is. */
export function configureGateway(app: INestApplication): void {
  const settings = app.get<GatewaySettingsValues>(SETTINGS);
  const proxy = app.get(InvocationProxy);
  const postedEvents = app.get(PostedEventsRoute);
  const consoleRoute = app.get(ConsoleRoute);
  const instance = app.getHttpAdapter().getInstance() as express.Express;
  instance.disable('x-powered-by');
  instance.set('etag', false);
  // Odd spellings of a route (/API/..., a trailing slash) get 404, not a handler. ApiKeyGuard checks the route
  // that matched whatever its spelling, so this is tidiness, not the safety.
  instance.set('case sensitive routing', true);
  instance.set('strict routing', true);
  // Express made its router before these settings could be given; Nest adds the routes later, at init.
  Object.assign(instance.router as unknown as { caseSensitive: boolean; strict: boolean }, { caseSensitive: true, strict: true });

  // Invocations, posted events and the console's static files are answered before Express sees them: the cheapest path through the gateway.
  const server = app.getHttpServer() as Server;
  server.on('clientError', answerClientError);
  // The one websocket of the API: a debug session's inspector.
  const debugSocket = app.get(DebugSocketRoute);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => debugSocket.upgrade(req, socket, head));
  const listeners = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const bad = urlProblem(req.url ?? '/');
    if (bad) {
      sendError(res, { statusCode: 400, error: 'Bad Request', message: `The request is refused: ${bad}` });
      req.resume();
      return;
    }
    if (proxy.handle(req, res) || postedEvents.handle(req, res) || consoleRoute.handle(req, res)) return;
    inRequestSpan(req, res, () => {
      for (const listener of listeners) listener.call(server, req, res);
    });
  });

  app.use(express.json({ limit: settings.GATEWAY_MAX_BODY_BYTES, type: ['application/json', 'application/*+json'], verify: verifyJsonBody }));
  app.use((err: { type?: string; status?: number; message?: string }, _req: Request, res: Response, next: NextFunction) => {
    if (!err) return next();
    sendError(res, bodyProblem(err, settings.GATEWAY_MAX_BODY_BYTES));
  });
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (Array.isArray(req.body))
      return sendError(res, { statusCode: 400, error: 'Bad Request', message: 'The request body must be a JSON object, not an array' });
    next();
  });
  app.useGlobalPipes(httpValidationPipe());

  const document = apiDocument(app);
  SwaggerModule.setup(SWAGGER_PATH, app, document, {
    jsonDocumentUrl: `${SWAGGER_PATH}-json`,
    yamlDocumentUrl: `${SWAGGER_PATH}-yaml`,
    customSiteTitle: 'hks API',
  });
}

/** Probes and scrapes, which would only be noise in a trace store. */
const UNTRACED = /^\/(healthz|readyz|metrics)(\?|$)/;

/**
 * The gateway's span of a management request (functions, builds, keys, ...): a child of the caller's `traceparent`,
 * active while Express and Nest handle it, so the RPC calls it makes (and the builds they queue) are its children.
 * Named after the route that matched (bounded), once it is known.
 */
function inRequestSpan(req: IncomingMessage, res: ServerResponse, handle: () => void): void {
  if (UNTRACED.test(req.url ?? '/')) return handle();
  const parent = extractContext(req.headers as Record<string, unknown>);
  const span = tracer().startSpan(req.method ?? 'HTTP', { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method } }, parent);
  const active = trace.setSpan(parent, span);
  // The body arrives in events of the request: bound, so body parsing does not lose the span.
  context.bind(active, req);
  context.bind(active, res);
  res.once('close', () => {
    const route = (req as Partial<Request>).route as { path?: unknown } | undefined;
    if (typeof route?.path === 'string') {
      span.updateName(`${req.method} ${route.path}`);
      span.setAttribute('http.route', route.path);
    }
    span.setAttribute('http.response.status_code', res.statusCode);
    span.end();
  });
  context.with(active, handle);
}

/**
 * A request Node's parser refuses (a request line or headers over its 16 KB limit, bytes that are not HTTP) gets the
 * platform's error body like every other refusal, instead of Node's bare status line.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const message = tooLarge
    ? 'The request line and headers are larger than the 16 KB the gateway reads; send the data in the body instead'
    : 'The request is not valid HTTP/1.1';
  const body = JSON.stringify({ statusCode: status, error: httpReason(status), message });
  socket.end(
    `HTTP/1.1 ${status} ${httpReason(status)}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
