import { Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'http';
import * as net from 'net';
import type { Duplex } from 'stream';
import { DEBUG_SOCKET_PATH, httpReason, INVOKER_DEBUG_PATH } from '@platform/contracts';
import { ADMIN_ONLY, GatewayAccess } from '../access/gateway-access';
import { InvokerDebugClient } from './invoker-debug.client';

const PASSED = ['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol'];

function refuse(socket: Duplex, status: number, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ statusCode: status, error: httpReason(status), message });
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
  socket.end(
    `HTTP/1.1 ${status} ${httpReason(status)}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `${extra.join('')}connection: close\r\n\r\n${body}`,
  );
}

/**
 * GET /api/v1/functions/{id}/debug/{session}/ws with Upgrade: websocket - a debug session's inspector. The key is
 * checked here (401 without a valid one); the invoker, which holds the session, answers 404 unless it is the key
 * that opened the session, then joins the connection to the debug worker's inspector.
 */
@Injectable()
export class DebugSocketRoute {
  constructor(
    private readonly access: GatewayAccess,
    private readonly invoker: InvokerDebugClient,
  ) {}

  /** Every upgrade request the gateway gets; anything but a debug socket is a 404. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const m = DEBUG_SOCKET_PATH.exec(req.url ?? '');
    if (!m || req.method !== 'GET') return refuse(socket, 404, `${req.method} ${req.url ?? ''} takes no websocket`);
    void this.forward(req, socket, head, m[1], m[2]).catch(() => socket.destroy());
  }

  private async forward(req: IncomingMessage, socket: Duplex, head: Buffer, fn: string, session: string): Promise<void> {
    const auth = await this.access.authenticate(req);
    if (!auth.ok) return refuse(socket, auth.body.statusCode, auth.body.message, auth.headers);
    if (auth.principal.scope !== 'admin') return refuse(socket, 403, ADMIN_ONLY.message);
    const limited = await this.access.limit(req, auth.principal);
    if (limited) return refuse(socket, limited.body.statusCode, limited.body.message, limited.headers);
    const url = this.invoker.invokerUrl;
    const upstream = net.connect(Number(url.port || 80), url.hostname.replace(/^\[|\]$/g, ''));
    const done = () => {
      socket.destroy();
      upstream.destroy();
    };
    upstream.on('error', (err) => {
      if (upstream.bytesRead === 0 && !socket.destroyed) refuse(socket, 503, `the invoker (INVOKER_URL ${url.origin}) did not answer: ${err.message}`);
      done();
    });
    upstream.on('close', done);
    socket.on('close', done);
    upstream.on('connect', () => {
      let decoded = fn;
      try {
        decoded = decodeURIComponent(fn);
      } catch {
        // Left as it is: the invoker finds no session for it.
      }
      const headers: Record<string, string> = { host: url.host, upgrade: 'websocket', connection: 'Upgrade', ...this.invoker.headers(auth.principal.id) };
      for (const name of PASSED) {
        const v = req.headers[name];
        if (typeof v === 'string') headers[name] = v;
      }
      const target = `${url.pathname.replace(/\/$/, '')}${INVOKER_DEBUG_PATH}/${session}/ws?function=${encodeURIComponent(decoded)}`;
      upstream.write(
        `GET ${target} HTTP/1.1\r\n${Object.entries(headers)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('')}\r\n`,
      );
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
  }
}
