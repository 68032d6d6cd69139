import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import { AddressInfo } from 'net';
import { runCli } from '../src/cli';
import { CliIO } from '../src/io';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  body: unknown;
}

export interface FakeAnswer {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Raw text instead of JSON. */
  text?: string;
}

type Handler = (req: RecordedRequest, params: string[], res: ServerResponse) => FakeAnswer | Promise<FakeAnswer> | 'handled';

/**
 * A small HTTP server standing in for the gateway in unit tests: routes answer what the test scripts, and every
 * request is recorded so a test can check what `hks` sent. Unknown routes answer the gateway's 404 shape.
 */
export class FakeGateway {
  readonly requests: RecordedRequest[] = [];
  private readonly routes: Array<{ method: string; pattern: RegExp; handler: Handler }> = [];
  private server?: Server;
  url = '';

  /** Forgets the routes and the recorded requests (between tests). */
  reset(): void {
    this.routes.length = 0;
    this.requests.length = 0;
  }

  on(method: string, path: string | RegExp, handler: Handler): this {
    const pattern = typeof path === 'string' ? new RegExp(`^${path.replace(/[.?+]/g, '\\$&').replace(/:[a-zA-Z]+/g, '([^/]+)')}$`) : path;
    this.routes.unshift({ method, pattern, handler });
    return this;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: text ? JSON.parse(text) : undefined,
    };
    this.requests.push(recorded);
    for (const route of this.routes) {
      const m = route.method === recorded.method ? route.pattern.exec(recorded.path) : null;
      if (!m) continue;
      const answer = await route.handler(recorded, m.slice(1).map(decodeURIComponent), res);
      if (answer === 'handled') return;
      res.writeHead(answer.status ?? 200, { 'content-type': answer.text !== undefined ? 'text/plain' : 'application/json', ...answer.headers });
      res.end(answer.text ?? (answer.body === undefined ? '' : JSON.stringify(answer.body)));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ statusCode: 404, error: 'Not Found', message: `Cannot ${recorded.method} ${recorded.path}` }));
  }
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `hks` in-process with the given arguments, capturing what it prints. */
export async function hks(argv: string[], o: Partial<CliIO> & { gateway?: string } = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const { gateway, ...io } = o;
  const code = await runCli(gateway ? ['--gateway', gateway, ...argv] : argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: { HKS_CONFIG: '/nonexistent/hks-config.yaml' },
    cwd: process.cwd(),
    interactive: false,
    confirm: () => Promise.resolve(false),
    pollIntervalMs: 5,
    ...io,
  });
  return { code, stdout, stderr };
}
