import { spawn } from 'child_process';
import * as path from 'path';
import WebSocket from 'ws';
import { DEBUG_SESSION_HEADER, type DebugSessionView } from '@platform/contracts';
import { platformClient, until } from './support/invocations';
import { api, RunningPlatform, startPlatform } from './support/platform';

const BIN = path.resolve(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');

/** The handler, line by line: the breakpoint goes on line 3 (0-based 2), where `doubled` is computed. */
const HANDLER = ['// debug target', 'module.exports.handle = async (input) => {', '  const doubled = input.n * 2;', '  return { doubled };', '};', ''].join(
  '\n',
);
const BREAK_LINE = 2;
const IDLE_MS = 5_000;

interface CdpMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
}

/** A Chrome DevTools protocol client over one websocket: commands answered by id, events kept in order. */
class Cdp {
  private next = 1;
  private readonly waiting = new Map<number, (m: CdpMessage) => void>();
  readonly events: CdpMessage[] = [];

  constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: WebSocket.RawData) => {
      const m = JSON.parse(data.toString()) as CdpMessage;
      if (m.id !== undefined) this.waiting.get(m.id)?.(m);
      else this.events.push(m);
    });
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<CdpMessage> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${method}: no answer in 30 s`)), 30_000);
      this.waiting.set(id, (m) => {
        clearTimeout(timer);
        if (m.error) reject(new Error(`${method}: ${m.error.message}`));
        else resolve(m);
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  event(method: string, timeoutMs = 30_000): Promise<CdpMessage> {
    return until(() => Promise.resolve(this.events.find((e) => e.method === method)), `the inspector's ${method} event`, timeoutMs);
  }
}

/** Opens a websocket; resolves with it once open, or with the status of the refused upgrade. */
function connect(url: string, headers: Record<string, string>): Promise<{ ws?: WebSocket; status?: number; body?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    ws.once('error', reject);
  });
}

/**
 * hks function debug --attach, through the public API against the six services as processes: a debug session on a
 * deployed Node function, its inspector reached through the gateway's websocket (only with the key that opened it),
 * a breakpoint in handler.js hit by an invocation sent to the session, and the invocation's answer after resuming.
 */
describe('debug sessions: the Node inspector through the gateway', () => {
  let p: RunningPlatform;
  const client = platformClient(() => p);
  let functionId: string;
  let session: DebugSessionView;
  let ws: WebSocket | undefined;

  /** The websocket goes to the gateway itself: the suite's conformance proxy speaks HTTP only. */
  const wsUrl = (path: string) => `ws://127.0.0.1:${p.ports.gateway}${path}`;

  beforeAll(async () => {
    // Sessions end after 5 s idle here (10 min by default), so the last step sees one end by itself.
    p = await startPlatform({ INVOKER_DEBUG_IDLE_MS: String(IDLE_MS) });
    functionId = await client.deploy({ label: 'debug-target', runtime: 'node', handler: HANDLER, config: { resources: { timeoutMs: 2_000 } } });
  }, 240_000);

  afterAll(async () => {
    ws?.close();
    await p?.stop();
  }, 60_000);

  it('opens a session on the deployed function', async () => {
    const opened = await client.call<DebugSessionView>('POST', `/api/v1/functions/${functionId}/debug`);
    expect(opened.status).toBe(201);
    session = opened.body;
    expect(session).toMatchObject({ functionId, label: 'debug-target', runtime: 'node', timeoutDisabled: true });
    expect(session.websocketPath).toBe(`/api/v1/functions/${functionId}/debug/${session.sessionId}/ws`);
  }, 60_000);

  it('refuses the websocket without a key (401) and to another admin key (404)', async () => {
    const none = await connect(wsUrl(session.websocketPath), {});
    expect(none.status).toBe(401);
    const other = await client.call<{ key: string }>('POST', '/api/v1/keys', { name: 'someone-else', scope: 'admin' });
    expect(other.status).toBe(201);
    const refused = await connect(wsUrl(session.websocketPath), { authorization: `Bearer ${other.body.key}` });
    expect(refused.status).toBe(404);
    expect(refused.body).toContain('no debug session');
    // A plain GET of the websocket's path says what it is (sent to the gateway itself: the path is outside the OpenAPI
    // document, which cannot describe a websocket, so the suite's conformance proxy would count it).
    const plain = await api(`http://127.0.0.1:${p.ports.gateway}`, 'GET', session.websocketPath, undefined, { authorization: `Bearer ${p.adminKey}` });
    expect(plain.status).toBe(400);
    expect(plain.text).toContain('websocket');
  }, 60_000);

  it('stops an invocation at a breakpoint in handler.js and answers once resumed, past the function timeout', async () => {
    const opened = await connect(wsUrl(session.websocketPath), { authorization: `Bearer ${p.adminKey}` });
    expect(opened.status).toBeUndefined();
    ws = opened.ws!;
    const cdp = new Cdp(ws);
    await cdp.send('Runtime.enable');
    await cdp.send('Debugger.enable');
    const bp = await cdp.send('Debugger.setBreakpointByUrl', { lineNumber: BREAK_LINE, urlRegex: 'handler\\.js$' });
    expect(bp.result?.breakpointId).toEqual(expect.any(String));
    await cdp.send('Runtime.runIfWaitingForDebugger');

    const answer = api(
      p.gatewayUrl,
      'POST',
      `/api/v1/functions/invoke/${functionId}`,
      { data: { n: 21 } },
      {
        authorization: `Bearer ${p.adminKey}`,
        [DEBUG_SESSION_HEADER]: session.sessionId,
      },
    );
    const paused = await cdp.event('Debugger.paused', 45_000);
    const frame = (paused.params?.callFrames as Array<{ location: { scriptId: string; lineNumber: number } }>)[0];
    // Where it stopped: the script the inspector announced under that id (Debugger.scriptParsed) is the function's handler.js.
    const script = cdp.events.find((e) => e.method === 'Debugger.scriptParsed' && e.params?.scriptId === frame.location.scriptId);
    expect(script?.params?.url).toMatch(/^file:\/\/\/code\/handler\.js$/);
    expect(frame.location.lineNumber).toBe(BREAK_LINE);
    // Meanwhile the function's other callers are served by its regular workers, the paused one holds up none of them.
    const other = await client.call('POST', `/api/v1/functions/invoke/${functionId}`, { data: { n: 5 } });
    expect([other.status, other.body]).toEqual([200, { doubled: 10 }]);
    // The session's id is no pass to its worker: another admin key naming it is told it does not exist (404), an
    // invoke key's header is dropped (served by the regular workers), and a qualified call with it is a 400.
    const admin2 = await client.call<{ key: string }>('POST', '/api/v1/keys', { name: 'debug-admin-2', scope: 'admin' });
    const invoker = await client.call<{ key: string }>('POST', '/api/v1/keys', { name: 'debug-invoker', scope: 'invoke', functions: [functionId] });
    expect([admin2.status, invoker.status]).toEqual([201, 201]);
    const withSession = (key: string, target = functionId) =>
      api(
        p.gatewayUrl,
        'POST',
        `/api/v1/functions/invoke/${target}`,
        { data: { n: 4 } },
        { authorization: `Bearer ${key}`, [DEBUG_SESSION_HEADER]: session.sessionId },
      );
    const stranger = await withSession(admin2.body.key);
    expect(stranger.status).toBe(404);
    expect(stranger.text).toContain(`no debug session ${session.sessionId}`);
    const dropped = await withSession(invoker.body.key);
    expect([dropped.status, dropped.body]).toEqual([200, { doubled: 8 }]);
    const qualified = await withSession(p.adminKey, `${functionId}:1`);
    expect(qualified.status).toBe(400);
    expect(qualified.text).toContain('without a qualifier');
    // Held longer than the function's 2 s time limit: the debug worker has none.
    await new Promise((r) => setTimeout(r, 3_000));
    await cdp.send('Debugger.resume');
    const done = await answer;
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ doubled: 42 });
  }, 90_000);

  it('refuses a Python function with a 400 that says debugpy is missing', async () => {
    const py = await client.deploy({ label: 'debug-python', runtime: 'python', handler: 'def handle(event):\n    return {"ok": True}\n' });
    const refused = await client.call('POST', `/api/v1/functions/${py}/debug`);
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('debugpy');
  }, 240_000);

  it('hks function debug --attach forwards a local port to a session of its own, found at /json/list, and ends it on Ctrl-C', async () => {
    // Straight to the gateway: the suite's conformance proxy does not forward websockets.
    const cli = spawn(process.execPath, [BIN, 'function', 'debug', '--attach', 'debug-target', '--port', '0'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: p.dataDir, HKS_GATEWAY_URL: `http://127.0.0.1:${p.ports.gateway}`, HKS_API_KEY: p.adminKey },
    });
    let out = '';
    let err = '';
    cli.stdout.on('data', (c: Buffer) => (out += c.toString()));
    cli.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
    try {
      const port = await until(
        () => Promise.resolve(/forwarded to 127\.0\.0\.1:(\d+)/.exec(out)?.[1]),
        `hks to listen (stdout: ${out}, stderr: ${err})`,
        60_000,
      );
      expect(out).toContain('chrome://inspect');
      expect(out).toContain(`node inspect 127.0.0.1:${port}`);
      const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string; id: string }>;
      expect(list).toHaveLength(1);
      expect(list[0].id).not.toBe(session.sessionId);
      const local = await connect(list[0].webSocketDebuggerUrl, {});
      expect(local.status).toBeUndefined();
      const cdp = new Cdp(local.ws!);
      const evaluated = await cdp.send('Runtime.evaluate', { expression: 'process.env.HKS_DEBUG_DIR + " " + process.cwd()', returnByValue: true });
      expect((evaluated.result?.result as { value: string }).value).toBe('/hks/debug /code');
      const closed = new Promise<void>((resolve) => local.ws!.once('close', () => resolve()));
      cli.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(err).toContain(`debug session ${list[0].id} ended`);
      await closed;
    } finally {
      cli.kill('SIGKILL');
    }
  }, 90_000);

  it('ends the session on DELETE: its websocket closes and the session is gone', async () => {
    const closed = new Promise<void>((resolve) => ws!.once('close', () => resolve()));
    // Named under another function, it is not found (and stays open).
    const py = await client.call<{ id: string }>('GET', '/api/v1/functions/debug-python');
    expect((await client.call('DELETE', `/api/v1/functions/${py.body.id}/debug/${session.sessionId}`)).status).toBe(404);
    const ended = await client.call('DELETE', `/api/v1/functions/${functionId}/debug/${session.sessionId}`);
    expect(ended.status).toBe(200);
    await closed;
    const again = await client.call('DELETE', `/api/v1/functions/${functionId}/debug/${session.sessionId}`);
    expect(again.status).toBe(404);
    const stale = await api(
      p.gatewayUrl,
      'POST',
      `/api/v1/functions/invoke/${functionId}`,
      { data: { n: 1 } },
      {
        authorization: `Bearer ${p.adminKey}`,
        [DEBUG_SESSION_HEADER]: session.sessionId,
      },
    );
    expect(stale.status).toBe(404);
  }, 60_000);

  it('ends a session by itself once idle (no debugger, no invocation) for INVOKER_DEBUG_IDLE_MS', async () => {
    const opened = await client.call<DebugSessionView>('POST', `/api/v1/functions/${functionId}/debug`);
    expect(opened.status).toBe(201);
    expect(opened.body.idleTimeoutMs).toBe(IDLE_MS);
    const started = Date.now();
    const sessionPath = `/api/v1/functions/${functionId}/debug/${opened.body.sessionId}`;
    // Looking at it (GET) is not activity: it ends while the test looks.
    expect((await client.call('GET', sessionPath)).status).toBe(200);
    await until(async () => ((await client.call('GET', sessionPath)).status === 404 ? true : undefined), 'the idle session to end', 40_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(IDLE_MS);
    const stale = await api(
      p.gatewayUrl,
      'POST',
      `/api/v1/functions/invoke/${functionId}`,
      { data: { n: 1 } },
      {
        authorization: `Bearer ${p.adminKey}`,
        [DEBUG_SESSION_HEADER]: opened.body.sessionId,
      },
    );
    expect(stale.status).toBe(404);
  }, 60_000);
});
