import { ChildProcess, spawn } from 'child_process';
import { createPublicKey, KeyObject, verify } from 'crypto';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import { freePort } from '@platform/testing';
import { FINAL_INVOCATION_STATUSES, type FunctionView, type InvocationStatus, type InvocationView } from '@platform/contracts';
import { api, HttpAnswer, RunningPlatform } from './platform';

/** What the suites of asynchronous invocations share: a client of the platform and a receiver of callbacks. */

export interface PlatformClient {
  call<T = Record<string, unknown>>(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<HttpAnswer<T>>;
  /** Created, built and deployed through the public API; resolves with its id once it is READY. */
  deploy(body: Record<string, unknown>): Promise<string>;
  /** The view of an invocation once its status is final (succeeded, failed, dead, cancelled). */
  finalView(id: string, timeoutMs?: number): Promise<InvocationView>;
  /** The view once `ok` holds for it. */
  viewWhen(id: string, ok: (v: InvocationView) => boolean, what: string, timeoutMs?: number): Promise<InvocationView>;
}

export const isFinal = (s: InvocationStatus | undefined) => s !== undefined && FINAL_INVOCATION_STATUSES.includes(s);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every 200 ms until it gives a value; the error names `what` and the last thing seen. */
export async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(200);
  }
}

export function platformClient(p: () => RunningPlatform): PlatformClient {
  const call = <T = Record<string, unknown>>(method: string, url: string, body?: unknown, headers?: Record<string, string>) =>
    api<T>(p().gatewayUrl, method, url, body, { authorization: `Bearer ${p().adminKey}`, ...headers });

  const status = async (id: string) => (await call<FunctionView>('GET', `/api/v1/functions/${id}`)).body?.status;

  async function deploy(body: Record<string, unknown>): Promise<string> {
    const created = await call<FunctionView>('POST', '/api/v1/functions', body);
    if (created.status !== 201) throw new Error(`creating ${String(body.label)} answered ${created.status}: ${created.text}`);
    const id = created.body.id;
    const build = await call('POST', `/api/v1/functions/build/${id}`);
    if (build.status !== 202) throw new Error(`building ${String(body.label)} answered ${build.status}: ${build.text}`);
    await until(async () => ((await status(id)) === 'BUILT' ? true : undefined), `${String(body.label)} BUILT`, 120_000);
    const deployed = await call('POST', `/api/v1/functions/deploy/${id}`);
    if (deployed.status !== 200 && deployed.status !== 202) throw new Error(`deploying ${String(body.label)} answered ${deployed.status}: ${deployed.text}`);
    await until(async () => ((await status(id)) === 'READY' ? true : undefined), `${String(body.label)} READY`, 120_000);
    return id;
  }

  async function viewWhen(id: string, ok: (v: InvocationView) => boolean, what: string, timeoutMs = 30_000): Promise<InvocationView> {
    let last: HttpAnswer<InvocationView> | undefined;
    try {
      return await until(
        async () => {
          last = await call<InvocationView>('GET', `/api/v1/invocations/${id}`);
          return last.status === 200 && ok(last.body) ? last.body : undefined;
        },
        `invocation ${id} ${what}`,
        timeoutMs,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; last answer ${last?.status}: ${last?.text.slice(0, 1500)}`);
    }
  }

  const finalView = (id: string, timeoutMs = 30_000) => viewWhen(id, (v) => isFinal(v.status), 'to end', timeoutMs);

  return { call, deploy, finalView, viewWhen };
}

export interface ReceivedCallback {
  /** webhook-id, webhook-timestamp and webhook-signature (Standard Webhooks). */
  id: string;
  timestamp: string;
  signature: string;
  headers: http.IncomingHttpHeaders;
  path: string;
  /** The raw body, as signed. */
  body: string;
  /** Date.now() when it arrived. */
  at: number;
  /** What the receiver answered. */
  answered: number;
}

/**
 * A local HTTP server that callbacks are POSTed to (127.0.0.1 only). It answers 204, except on a path starting with
 * /fail-first: there the first delivery of each webhook-id gets a 500 (to see deliveries retried).
 */
export class CallbackReceiver {
  readonly received: ReceivedCallback[] = [];
  private readonly server: http.Server;
  private port = 0;

  private constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const one = (name: string) => String(req.headers[name] ?? '');
        const id = one('webhook-id');
        const earlier = this.received.some((r) => r.id === id);
        const answered = (req.url ?? '').startsWith('/fail-first') && !earlier ? 500 : 204;
        this.received.push({
          id,
          timestamp: one('webhook-timestamp'),
          signature: one('webhook-signature'),
          headers: req.headers,
          path: req.url ?? '',
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
          answered,
        });
        res.writeHead(answered).end();
      });
    });
  }

  static async start(): Promise<CallbackReceiver> {
    const r = new CallbackReceiver();
    await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
    r.port = (r.server.address() as AddressInfo).port;
    return r;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  of(id: string): ReceivedCallback[] {
    return this.received.filter((r) => r.id === id);
  }

  /** The first callback of invocation `id` this receiver accepted (answered 204). */
  delivered(id: string, timeoutMs = 30_000): Promise<ReceivedCallback> {
    return until(() => Promise.resolve(this.of(id).find((r) => r.answered === 204)), `the callback of ${id}`, timeoutMs);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * Standard Webhooks' asymmetric scheme: `webhook-signature` is a space-separated list of `v1a,<base64 signature>`;
 * one of them must be an ed25519 signature of "{webhook-id}.{webhook-timestamp}.{body}" by `key`.
 */
export function signatureVerifies(cb: Pick<ReceivedCallback, 'id' | 'timestamp' | 'signature' | 'body'>, key: KeyObject): boolean {
  const signed = Buffer.from(`${cb.id}.${cb.timestamp}.${cb.body}`);
  return cb.signature
    .split(' ')
    .filter((s) => s.startsWith('v1a,'))
    .some((s) => verify(null, signed, key, Buffer.from(s.slice(4), 'base64')));
}

/** The key of GET /api/v1/invocations/callback-key from its raw 32 bytes (base64), as a JWK: the way without a PEM. */
export function keyFromRaw(publicKey: string): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey, 'base64').toString('base64url') }, format: 'jwk' });
}

/** A deployer started beside the supervised one, the way tools/platform.js starts it (same settings, its own port). */
export interface SecondDeployer {
  process: ChildProcess;
  exited: Promise<unknown>;
  /** The end of what it printed. */
  output(): string;
}

/** Starts a second deployer from dist/ and resolves once it answers /readyz; killed (and its output thrown) if it does not. */
export async function startSecondDeployer(p: RunningPlatform): Promise<SecondDeployer> {
  const main = path.resolve(__dirname, '..', '..', 'dist', 'apps', 'deployer', 'src', 'main.js');
  const port = await freePort();
  const child = spawn(process.execPath, [main], {
    cwd: path.resolve(__dirname, '..', '..'),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...p.env, DEPLOYER_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (c: Buffer) => (output = (output + c.toString()).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await until(
      async () => ((await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined),
      'the second deployer ready',
      60_000,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\nthe second deployer's output (its end):\n${output}`);
  }
  return { process: child, exited, output: () => output };
}
