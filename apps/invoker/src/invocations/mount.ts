import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { IncomingMessage, Server, ServerResponse } from 'http';
import { InvokeServer } from './invoke-server';

/**
 * Puts the invocation routes in front of Nest on the same port: the server's request listener first
 * offers every request to the plain-http InvokeServer and hands the rest (health, deployments) to Nest.
 */
export function mountInvocations(app: INestApplication): void {
  (app as NestExpressApplication).useBodyParser('json', { limit: '5mb' });
  const server = app.getHttpServer() as Server;
  const invoke = app.get(InvokeServer);
  const nest = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!invoke.handle(req, res)) for (const listener of nest) listener(req, res);
  });
  // Callers (the gateway, the deployer) keep their connections open between invocations.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
}
