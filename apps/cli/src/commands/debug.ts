import { Command, Option } from 'commander';
import * as http from 'http';
import * as net from 'net';
import type { Duplex } from 'stream';
import * as tls from 'tls';
import { DEBUG_SESSION_HEADER, type DebugSessionView } from '@platform/contracts';
import { UsageError } from '../errors';
import { CommandContext } from './context';

interface DebugOptions {
  attach?: boolean;
  port: string;
}

const PASSED = ['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol'];

/** What a debugger finds at /json/list (chrome://inspect, node inspect): the one target, the session's worker. */
export function inspectorTargets(view: DebugSessionView, port: number): unknown[] {
  const ws = `127.0.0.1:${port}/${view.sessionId}`;
  return [
    {
      description: `hks function ${view.label} v${view.version} (debug session ${view.sessionId})`,
      devtoolsFrontendUrl: `devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws=${ws}`,
      devtoolsFrontendUrlCompat: `devtools://devtools/bundled/inspector.html?experiments=true&v8only=true&ws=${ws}`,
      faviconUrl: 'https://nodejs.org/static/images/favicons/favicon.ico',
      id: view.sessionId,
      title: `${view.label} (hks)`,
      type: 'node',
      url: 'file:///code/',
      webSocketDebuggerUrl: `ws://${ws}`,
    },
  ];
}

/** The lines printed once the local port listens: how to attach, and how to send invocations to the debug worker. */
export function attachInstructions(view: DebugSessionView, port: number, invokeUrl: string): string {
  const ws = `127.0.0.1:${port}/${view.sessionId}`;
  return [
    `debugging ${view.label} v${view.version}: its debug worker's inspector is forwarded to 127.0.0.1:${port} (session ${view.sessionId})`,
    `  Chrome:   chrome://inspect -> Configure... -> add 127.0.0.1:${port}, then "inspect" under Remote Target`,
    `  DevTools: devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws=${ws}`,
    `  Node:     node inspect 127.0.0.1:${port}`,
    `Invocations reach the debug worker (no time limit) only with the header ${DEBUG_SESSION_HEADER}: ${view.sessionId}, e.g.`,
    `  curl -X POST ${invokeUrl} -H '${DEBUG_SESSION_HEADER}: ${view.sessionId}' -H 'authorization: Bearer $HKS_API_KEY' -H 'content-type: application/json' -d '{"data": {}}'`,
    `The session ends with Ctrl-C, or by itself after ${Math.round(view.idleTimeoutMs / 1000)} s with no debugger connected and no invocation.`,
    '',
  ].join('\n');
}

/**
 * Joins one local websocket upgrade to the session's websocket on the gateway (like kubectl port-forward): the same
 * upgrade request, sent with the key that opened the session, then bytes both ways.
 */
function forward(req: http.IncomingMessage, local: Duplex, head: Buffer, gateway: URL, path: string, auth: string | undefined): void {
  const port = Number(gateway.port || (gateway.protocol === 'https:' ? 443 : 80));
  const host = gateway.hostname.replace(/^\[|\]$/g, '');
  const remote = gateway.protocol === 'https:' ? tls.connect({ host, port, servername: host }) : net.connect(port, host);
  const done = () => {
    local.destroy();
    remote.destroy();
  };
  local.on('error', done).on('close', done);
  remote.on('error', done).on('close', done);
  remote.once(gateway.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
    const headers: Record<string, string> = { host: gateway.host, upgrade: 'websocket', connection: 'Upgrade', ...(auth ? { authorization: auth } : {}) };
    for (const name of PASSED) {
      const v = req.headers[name];
      if (typeof v === 'string') headers[name] = v;
    }
    const base = gateway.pathname.replace(/\/$/, '');
    remote.write(
      `GET ${base}${path} HTTP/1.1\r\n${Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('')}\r\n`,
    );
    if (head.length) remote.write(head);
    remote.pipe(local);
    local.pipe(remote);
  });
}

export function debugCommand(context: (cmd: Command) => CommandContext): Command {
  return new Command('debug')
    .summary("attach a debugger to a function's own debug worker (Node inspector, forwarded to a local port)")
    .argument('<name>', 'function name or id')
    .option('--attach', 'start a debug worker and forward its inspector to 127.0.0.1:<port> until Ctrl-C')
    .addOption(new Option('--port <port>', 'local port debuggers connect to').default('9229'))
    .action(async function (this: Command, name: string, o: DebugOptions) {
      const ctx = context(this);
      if (!o.attach) throw new UsageError('say what to do: hks function debug --attach <name>');
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port ${o.port} is not a port number (0-65535)`);
      const view = await ctx.client.call<DebugSessionView>('POST', `/api/v1/functions/${encodeURIComponent(name)}/debug`);
      const gateway = new URL(ctx.client.baseUrl);
      const auth = ctx.client.headers().authorization;
      const server = http.createServer((req, res) => {
        const p = (req.url ?? '/').split('?')[0];
        const body =
          p === '/json' || p === '/json/list'
            ? inspectorTargets(view, listening)
            : p === '/json/version'
              ? { Browser: 'node.js (hks debug session)', 'Protocol-Version': '1.1' }
              : undefined;
        const text = JSON.stringify(body ?? { message: 'this is the hks debug forward: /json/list, or the websocket' });
        res.writeHead(body ? 200 : 404, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      });
      server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => forward(req, socket, head, gateway, view.websocketPath, auth));
      let listening = port;
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, '127.0.0.1', () => resolve());
        });
      } catch (err) {
        await ctx.client.call('DELETE', `/api/v1/functions/${view.functionId}/debug/${view.sessionId}`).catch(() => undefined);
        throw new UsageError(`cannot listen on 127.0.0.1:${port}: ${(err as Error).message} (choose another with --port)`);
      }
      listening = (server.address() as net.AddressInfo).port;
      ctx.out(attachInstructions(view, listening, ctx.invokeUrl(view.label)));
      const signal = ctx.io.signal;
      await new Promise<void>((resolve) => {
        if (!signal || signal.aborted) return resolve();
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      server.close();
      server.closeAllConnections();
      await ctx.client.call('DELETE', `/api/v1/functions/${view.functionId}/debug/${view.sessionId}`).then(
        () => ctx.note(`debug session ${view.sessionId} ended`),
        (err: Error) => ctx.note(`could not end debug session ${view.sessionId} (it ends by itself when idle): ${err.message}`),
      );
    });
}
