import { Logger, type INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { IncomingMessage, Server, ServerResponse } from 'http';
import type { Duplex } from 'stream';
import { jsonBytesProblem, MAX_JSON_DEPTH, ValidationError } from '@platform/contracts';
import { InternalCredential } from '@platform/config';
import { InProcessHttp } from '@platform/observability';
import { DebugSessions } from '../debug/debug-sessions';
import { refuseUpgrade, relayInspector } from '../debug/inspector-socket';
import { InvokeServer } from './invoke-server';

const logger = new Logger('InvokerHttp');

/** Bounded JSON for the deployments API too: the body parser refuses deep, NUL or non-UTF-8 JSON with a 400. */
function verifyJson(_req: IncomingMessage, _res: ServerResponse, buf: Buffer): void {
  const problem = jsonBytesProblem(buf, MAX_JSON_DEPTH);
  if (problem) throw new ValidationError(`${problem} (limit for JSON bodies: at most ${MAX_JSON_DEPTH} levels, valid UTF-8, no NUL byte)`);
}

/** A request whose handling threw synchronously gets a 500 of its own; the process and the other requests go on. */
function answerCrash(res: ServerResponse, err: unknown): void {
  logger.error(`a request failed unexpectedly: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify({
    statusCode: 500,
    error: 'Internal Server Error',
    message: 'Internal error while handling this request; the invoker logged the details',
  });
  res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Puts the invocation routes in front of Nest on the same port: the server's request listener first
 * offers every request to the plain-http InvokeServer and hands the rest (health, deployments) to Nest.
 */
export function mountInvocations(app: INestApplication): void {
  (app as NestExpressApplication).useBodyParser('json', { limit: '5mb', verify: verifyJson });
  const server = app.getHttpServer() as Server;
  const invoke = app.get(InvokeServer);
  invoke.attach(server);
  const nest = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  const guarded = (req: IncomingMessage, res: ServerResponse, serve: () => void): void => {
    try {
      serve();
    } catch (err) {
      try {
        answerCrash(res, err);
      } catch {
        res.destroy();
      }
    }
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    guarded(req, res, () => {
      if (!invoke.handle(req, res)) for (const listener of nest) listener(req, res);
    });
  });
  // A gateway in this same process hands invocations over as a call (its request, its response) instead of a hop.
  InProcessHttp.offer(server, (req, res) =>
    guarded(req, res, () => {
      if (!invoke.handle(req, res)) answerCrash(res, new Error(`an in-process caller sent ${req.method} ${req.url}, which is not an invocation`));
    }),
  );
  // The one websocket here: a debug session's inspector (the gateway forwards it to the session's owner).
  const sessions = app.get(DebugSessions);
  const credential = app.get(InternalCredential);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      if (!relayInspector(req, socket, head, sessions, credential)) refuseUpgrade(socket, 404, `${req.url ?? ''} takes no websocket`);
    } catch (err) {
      logger.error(`a websocket upgrade failed unexpectedly: ${(err as Error).stack ?? String(err)}`);
      socket.destroy();
    }
  });
  // Callers (the gateway, the deployer) keep their connections open between invocations.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
}
