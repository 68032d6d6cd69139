import { createServer, IncomingHttpHeaders, Server } from 'http';
import { AddressInfo } from 'net';
import { randomBytes } from 'crypto';
import { INTERNAL_TOKEN_HEADER } from '@platform/contracts';

export interface RecordedCall {
  method: string;
  path: string;
  functionId: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

type Answer = { status: number; body?: unknown; delayMs?: number; headers?: Record<string, string> };

/**
 * A real HTTP server standing in for the invoker: records every call, answers PUT/DELETE /deployments/:id and
 * POST /invoke/:id with 200 unless a test says otherwise; like the invoker, 401 to a caller without the internal credential.
 */
export class FakeInvoker {
  readonly calls: RecordedCall[] = [];
  /** Next answers to PUT /deployments/:functionId, by function id (consumed in order). */
  private readonly deployAnswers = new Map<string, Answer[]>();
  private readonly invokeAnswers = new Map<string, Answer[]>();
  private server?: Server;
  /** Delayed answers not sent yet (cleared at stop, so a test's slow answer does not keep Jest waiting). */
  private readonly delayed = new Set<NodeJS.Timeout>();
  url = '';
  /** The internal credential it expects (the harness gives it to the deployer as HKS_INTERNAL_TOKEN). */
  readonly token = randomBytes(32).toString('hex');

  answerDeploy(functionId: string, ...answers: Answer[]): void {
    this.deployAnswers.set(functionId, answers);
  }

  answerInvoke(functionId: string, ...answers: Answer[]): void {
    this.invokeAnswers.set(functionId, answers);
  }

  invocations(functionId: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === 'POST' && c.path.startsWith('/invoke/') && c.functionId === functionId);
  }

  deploymentCalls(functionId: string): RecordedCall[] {
    return this.calls.filter((c) => c.path.startsWith('/deployments/') && c.functionId === functionId);
  }

  /** Listens on `port` (0 = any; a test restarting the invoker passes the old one). */
  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        const [, kind, id] = url.pathname.split('/');
        const functionId = decodeURIComponent(id ?? '');
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          // Kept as text.
        }
        if (req.headers[INTERNAL_TOKEN_HEADER] !== this.token) {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ statusCode: 401, error: 'Unauthorized', message: `no valid ${INTERNAL_TOKEN_HEADER} header` }));
          return;
        }
        this.calls.push({ method: req.method ?? '', path: url.pathname, functionId, headers: req.headers, body });
        const queue =
          kind === 'deployments' && req.method === 'PUT'
            ? this.deployAnswers.get(functionId)
            : kind === 'invoke'
              ? this.invokeAnswers.get(functionId)
              : undefined;
        const answer = queue?.shift() ?? { status: 200, body: kind === 'invoke' ? { ok: true } : { functionId } };
        const timer = setTimeout(() => {
          this.delayed.delete(timer);
          res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
          res.end(JSON.stringify(answer.body ?? {}));
        }, answer.delayMs ?? 0);
        this.delayed.add(timer);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  async stop(): Promise<void> {
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
