import { ChildProcess, spawn } from 'child_process';
import { createHash, randomUUID } from 'crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { createServer, Socket } from 'net';
import { prepareWorkspace } from '../src/build/pipeline';
import { interpreters, shippedRuntimeDir, templateOf } from '../src/catalog';
import type { Interpreter, RuntimeDescriptor } from '../src/descriptor';
import { functionContract, workerProtocol as P } from '../src/shims';
import { RUNTIMES } from './index';

/*
 * The shared worker-contract vectors (vectors/*.json) against every runtime's shim, started in worker mode the way
 * its descriptor says (worker.command) and checked frame by frame: HELLO, LOAD -> LOADED, then per invocation its
 * LOG frames and one RESULT or ERROR. A runtime is in the run by being in RUNTIMES with a handler in the vector
 * file (handlers.<name>); every interpreter version its descriptor finds here runs them.
 */

interface BodySpec {
  json?: unknown;
  text?: string;
  base64?: string;
}

interface VectorCase {
  name: string;
  request: { style: 'data' | 'http'; method?: string; path?: string; query?: string; headers?: Record<string, string>; body?: BodySpec };
  deadlineInMs?: number;
  expect: {
    statusCode?: number;
    json?: boolean;
    headers?: Record<string, string | string[]>;
    body?: BodySpec & { bytes?: number; fill?: string };
    error?: { name?: string | string[]; message?: string; code?: string; stackContains?: string };
    logs?: Array<{ stream: 1 | 2; contains: string }>;
    logsExclude?: string[];
  };
}

interface Vector {
  description: string;
  load?: { env?: Record<string, string>; secrets?: Array<{ env: string; secret: string; key: string }>; timeoutMs?: number; maxResponseBytes?: number };
  handlers: Record<string, { entrypoint: string; files: Record<string, string> }>;
  cases: VectorCase[];
}

interface Frame {
  type: number;
  id: number;
  body: Buffer;
}

const VECTORS = path.join(__dirname, 'vectors');
const vectors: Array<[string, Vector]> = readdirSync(VECTORS)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(path.join(VECTORS, f), 'utf8')) as Vector]);

/** A shim in worker mode on a socket pair at fd 3, every frame it sends kept in order. */
class ShimUnderTest {
  readonly frames: Frame[] = [];
  private waiting?: () => void;
  private readonly socket: Socket;
  stderr = '';

  constructor(private readonly child: ChildProcess) {
    this.socket = child.stdio[3] as Socket;
    const reader = new P.FrameReader(64 * 1024 * 1024, (type, id, body) => {
      this.frames.push({ type, id, body });
      this.waiting?.();
    });
    this.socket.on('data', (chunk: Buffer) => reader.push(chunk));
    child.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
  }

  static start(d: RuntimeDescriptor, interpreter: Interpreter, codeDir: string): ShimUnderTest {
    // A prepared copy where the runtime prepares what it ships (a compiled shim), else its source folder.
    const cmd = d.worker.command(interpreter.realPath, shippedRuntimeDir(d.name), 'worker');
    const child = spawn(cmd[0], cmd.slice(1), {
      cwd: codeDir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', LANG: 'C.UTF-8', ...(d.worker.env ?? {}) },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    return new ShimUnderTest(child);
  }

  send(type: number, id: number, value: unknown): void {
    for (const b of P.encodeJson(type, id, value)) this.socket.write(b);
  }

  /** Waits for the frames of `id` up to and including the first of `last` (types); the frames of other ids are not its. */
  async until(id: number, last: number[], timeoutMs = 20_000): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const mine = this.frames.filter((f) => f.id === id);
      const end = mine.findIndex((f) => last.includes(f.type));
      if (end !== -1) return mine.slice(0, end + 1);
      if (Date.now() > deadline) throw new Error(`no ${last.join('/')} frame for ${id} within ${timeoutMs} ms; stderr: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
        setTimeout(resolve, 200);
      });
    }
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

function bodyOf(spec: BodySpec | undefined): Buffer {
  if (!spec) return Buffer.alloc(0);
  if (spec.base64 !== undefined) return Buffer.from(spec.base64, 'base64');
  if (spec.text !== undefined) return Buffer.from(spec.text, 'utf8');
  return Buffer.from(JSON.stringify(spec.json), 'utf8');
}

/** The INVOKE input, built by the same contract module the invoker uses. */
function inputOf(r: VectorCase['request']): unknown {
  const headers = r.headers ?? {};
  const query = functionContract.parseQuery(r.query ?? '');
  const body = bodyOf(r.body);
  if (r.style === 'http') return functionContract.httpInput(r.method ?? 'GET', r.path ?? '/', query, headers, body);
  const input = functionContract.dataInput(query, headers, body);
  if (input.error) throw new Error(input.error);
  return input.value;
}

/** Expected values with the case's own: "$invocationId" inside strings, {"$between": [a, b]} for numbers. */
function expected(v: unknown, invocationId: string): unknown {
  if (typeof v === 'string') return v.replace(/\$invocationId/g, invocationId);
  if (Array.isArray(v)) return v.map((x) => expected(x, invocationId));
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.$between)) {
      const [lo, hi] = o.$between as [number, number];
      return within(lo, hi);
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, expected(x, invocationId)]));
  }
  return v;
}

/** An asymmetric matcher (what jest's equality calls for an object with asymmetricMatch): a number in [lo, hi]. */
function within(lo: number, hi: number): unknown {
  return {
    asymmetricMatch: (v: unknown) => typeof v === 'number' && v >= lo && v <= hi,
    toAsymmetricMatcher: () => `a number within [${lo}, ${hi}]`,
  };
}

function checkFrames(c: VectorCase, frames: Frame[], invocationId: string): void {
  const F = P.Frame;
  const last = frames[frames.length - 1];
  // Every frame of the invocation before its answer is a LOG frame: [u8 stream][text].
  expect(frames.slice(0, -1).map((f) => f.type)).toEqual(frames.slice(0, -1).map(() => F.LOG));
  const logs = frames.slice(0, -1).map((f) => ({ stream: f.body[0], text: f.body.subarray(1).toString('utf8') }));
  for (const l of c.expect.logs ?? []) {
    const want = expected(l.contains, invocationId) as string;
    expect(
      logs
        .filter((x) => x.stream === l.stream)
        .map((x) => x.text)
        .join(''),
    ).toContain(want);
  }
  for (const text of c.expect.logsExclude ?? []) expect(logs.map((x) => x.text).join('')).not.toContain(text);

  if (c.expect.error) {
    expect(last.type).toBe(F.ERROR);
    const err = JSON.parse(last.body.toString('utf8')) as { name: string; message: string; stack?: string; code?: string };
    const e = c.expect.error;
    if (e.name) expect(Array.isArray(e.name) ? e.name : [e.name]).toContain(err.name);
    if (e.message) expect(err.message).toContain(e.message);
    if (e.code) expect(err.code).toBe(e.code);
    if (e.stackContains) expect(err.stack).toContain(e.stackContains);
    return;
  }
  expect([last.type, last.type === F.ERROR ? last.body.toString('utf8') : '']).toEqual([F.RESULT, '']);
  const { meta, body } = P.decodeResult(last.body);
  if (c.expect.statusCode !== undefined) expect(meta.statusCode).toBe(c.expect.statusCode);
  if (c.expect.json !== undefined) expect(meta.json).toBe(c.expect.json);
  if (c.expect.headers) expect(meta.headers).toMatchObject(c.expect.headers);
  const b = c.expect.body;
  if (!b) return;
  if (b.json !== undefined) expect(JSON.parse(body.toString('utf8'))).toEqual(expected(b.json, invocationId));
  if (b.text !== undefined) expect(body.toString('utf8')).toBe(b.text);
  if (b.base64 !== undefined) expect(body.toString('base64')).toBe(b.base64);
  if (b.bytes !== undefined) {
    expect(body.length).toBe(b.bytes);
    expect(createHash('sha256').update(body).digest('hex')).toBe(
      createHash('sha256')
        .update(Buffer.alloc(b.bytes, b.fill ?? 'x'))
        .digest('hex'),
    );
  }
}

for (const d of RUNTIMES) {
  for (const interpreter of interpreters(d)) {
    describe(`worker contract vectors: ${d.name} ${interpreter.version} (${interpreter.path})`, () => {
      for (const [file, vector] of vectors) {
        const handler = vector.handlers[d.name];
        if (!handler) {
          it.todo(`${file}: no ${d.name} handler in vectors/${file}.json`);
          continue;
        }
        describe(`${file}: ${vector.description}`, () => {
          let work: string;
          let shim: ShimUnderTest;

          beforeAll(async () => {
            work = mkdtempSync(path.join(tmpdir(), `hks-vectors-${d.name}-`));
            const source = {
              template: templateOf(d.name).name,
              runtime: d.name,
              runtimeVersion: interpreter.version,
              family: d.name,
              entrypoint: handler.entrypoint,
              files: handler.files,
            };
            // Built as the builder builds it (the SDK goes in, the entry point is checked).
            await prepareWorkspace(work, source, () => undefined, { python: { python: interpreter.realPath } });
            shim = ShimUnderTest.start(d, interpreter, work);
            const [hello] = await shim.until(0, [P.Frame.HELLO]);
            expect(JSON.parse(hello.body.toString('utf8'))).toMatchObject({ runtime: d.name });
            shim.send(P.Frame.LOAD, 0, {
              entrypoint: handler.entrypoint,
              env: vector.load?.env ?? {},
              secrets: vector.load?.secrets ?? [],
              codeDir: work,
              functionId: randomUUID(),
              label: `vectors-${file}`,
              version: 1,
              memoryMb: 128,
              timeoutMs: vector.load?.timeoutMs ?? 30_000,
              maxResponseBytes: vector.load?.maxResponseBytes ?? 6 * 1024 * 1024,
              concurrency: 1,
              // Outside a sandbox the custom runtime's program shares this machine's network: a free port, not 8080.
              port: await freePort(),
            });
            const loaded = await shim.until(0, [P.Frame.LOADED, P.Frame.LOAD_ERROR]);
            expect([loaded[loaded.length - 1].type, loaded[loaded.length - 1].body.toString('utf8')]).toEqual([P.Frame.LOADED, expect.any(String)]);
          }, 60_000);

          afterAll(() => {
            shim?.stop();
            if (work) rmSync(work, { recursive: true, force: true });
          });

          vector.cases.forEach((c, i) => {
            it(c.name, async () => {
              const id = i + 1;
              const invocationId = randomUUID();
              shim.send(P.Frame.INVOKE, id, { input: inputOf(c.request), ctx: { invocationId, deadline: Date.now() + (c.deadlineInMs ?? 30_000) } });
              checkFrames(c, await shim.until(id, [P.Frame.RESULT, P.Frame.ERROR]), invocationId);
            });
          });
        });
      }
    });
  }
}

/** A port nothing listens on now (the custom runtime's program runs here without a network namespace of its own). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
