import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { randomUUID } from 'crypto';
import type { RuntimeFamily } from '@platform/contracts';
import { MANIFEST_PATH } from '../build/workspace';
import { findBwrap } from '../sandbox/bwrap';
import { DEFAULT_EGRESS_DENY, egressNetwork, EgressUnavailableError } from '../sandbox/slirp';
import { copyRuntimes, interpreterFor } from '../catalog';
import { runtimesDir } from '../runtimes-dir';
import { functionContract } from '../shims';
import { WorkerProcess } from '../worker/worker-process';
import { HandlerError, SandboxOptions, WorkerExitedError } from '../worker/worker-types';

export interface LocalRunOptions {
  /** A bundle's directory: the function's files at the top, optionally .hks/manifest.json. */
  bundleDir: string;
  family: RuntimeFamily;
  /** "<module>.<function>"; default: the bundle manifest's, else "handler.*". */
  entrypoint?: string;
  env?: Record<string, string>;
  /** Data style: the handler gets this value. */
  data?: unknown;
  /** HTTP style: the handler gets the request (plus the top-level fields of a JSON body). */
  request?: { method?: string; path?: string; query?: Record<string, string | string[]>; headers?: Record<string, string>; body?: string | Buffer };
  timeoutMs?: number;
  /** Allow outbound network (off by default, as on the platform). */
  egress?: boolean;
  /** "auto" (default) sandboxes when bubblewrap is installed. */
  sandbox?: 'auto' | 'bwrap' | 'none';
  runtimeBin?: string;
  /** The runtime name as the function gives it (python3.9): picks the interpreter when runtimeBin is not set. */
  runtime?: string;
}

export interface LocalRunResult {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  /** The body as text (UTF-8), and parsed when it is JSON. */
  text: string;
  json?: unknown;
  /** What the handler printed. */
  logs: string;
  /** Set when the handler threw, could not be loaded, crashed or timed out. */
  error?: HandlerError;
  durationMs: number;
  sandboxed: boolean;
}

function manifestEntrypoint(bundleDir: string): string | undefined {
  try {
    const m = JSON.parse(readFileSync(path.join(bundleDir, MANIFEST_PATH), 'utf8'));
    return typeof m.entrypoint === 'string' ? m.entrypoint : undefined;
  } catch {
    return undefined;
  }
}

function inputOf(o: LocalRunOptions): unknown {
  if (!o.request) return o.data ?? null;
  const r = o.request;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = v;
  const body = Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body ?? '', 'utf8');
  return functionContract.httpInput((r.method ?? 'GET').toUpperCase(), r.path ?? '/', r.query ?? {}, headers, body);
}

function failure(statusCode: number, error: HandlerError, logs: string, started: number, sandboxed: boolean): LocalRunResult {
  const text = JSON.stringify({ statusCode, error: error.name, message: error.message });
  return {
    statusCode,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(text),
    text,
    json: JSON.parse(text),
    logs,
    error,
    durationMs: Date.now() - started,
    sandboxed,
  };
}

/**
 * A root user's sandbox runs as an unprivileged uid, which may not reach the shims where the platform is
 * installed (under /root, say): they are copied somewhere it can read for the run.
 */
function readableShims(privileged: boolean): { dir: string; cleanup: () => void } {
  if (!privileged) return { dir: runtimesDir(), cleanup: () => undefined };
  const dir = mkdtempSync(path.join(tmpdir(), 'hks-runtimes-'));
  copyRuntimes(dir);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs a function once on this machine with the same shim and, when bubblewrap is installed, the same
 * sandbox as the platform's workers (what `hks function test` uses). Memory limits need the invoker's
 * cgroups and are not applied here; the time limit is. When run as root, the sandbox's unprivileged
 * user must be able to read `bundleDir` (and the folders above it).
 */
export async function runLocally(o: LocalRunOptions): Promise<LocalRunResult> {
  const started = Date.now();
  const bundleDir = path.resolve(o.bundleDir);
  const bwrap = o.sandbox === 'none' ? undefined : findBwrap();
  if (o.sandbox === 'bwrap' && !bwrap) throw new Error('bubblewrap (bwrap) is not installed; install it or run without the sandbox');
  const runtimeBin = o.runtimeBin ?? interpreterFor(o.family, undefined, o.runtime ?? o.family)?.realPath;
  if (!runtimeBin) throw new Error(`no interpreter of the ${o.family} runtime is installed on this machine`);
  const timeoutMs = o.timeoutMs ?? 30_000;
  const root = process.getuid?.() === 0;
  // With egress the sandbox gets its own user-mode network (slirp4netns), as on the platform; never the host's.
  let egress: SandboxOptions['egress'];
  if (o.egress && bwrap) {
    try {
      egress = egressNetwork({ deny: DEFAULT_EGRESS_DENY });
    } catch (err) {
      if (!(err instanceof EgressUnavailableError)) throw err;
      throw new Error(`the function needs network egress: ${err.message}`);
    }
  }
  const shims = readableShims(root && !!bwrap);
  let worker: WorkerProcess;
  try {
    worker = await WorkerProcess.start({
      family: o.family,
      codeDir: bundleDir,
      shimRoot: shims.dir,
      runtimeBin,
      egress: o.egress ?? false,
      sandbox: bwrap ? { bwrapPath: bwrap, uid: 65534, gid: 65534, runAs: root ? { uid: 65534, gid: 65534 } : undefined, egress } : null,
    });
  } catch (err) {
    shims.cleanup();
    throw err;
  }
  const strays: string[] = [];
  worker.onStrayOutput = (t) => strays.push(t);
  const timer = setTimeout(() => worker.kill(), timeoutMs);
  try {
    try {
      await worker.load({ entrypoint: o.entrypoint ?? manifestEntrypoint(bundleDir) ?? 'handler.*', env: o.env ?? {}, timeoutMs, concurrency: 1 }, timeoutMs);
    } catch (err) {
      return failure(
        500,
        { name: 'LoadError', message: `the function could not be loaded: ${(err as Error).message}` },
        strays.join(''),
        started,
        worker.sandboxed,
      );
    }
    let reply;
    try {
      reply = await worker.invoke(inputOf(o), { invocationId: randomUUID(), deadline: Date.now() + timeoutMs });
    } catch (err) {
      const timedOut = Date.now() - started >= timeoutMs;
      const message = timedOut ? `the function did not finish within its time limit of ${timeoutMs} ms` : `the worker stopped: ${(err as Error).message}`;
      return failure(
        timedOut ? 504 : 502,
        { name: timedOut ? 'Timeout' : 'WorkerCrashed', message },
        (err as WorkerExitedError).logs ?? '',
        started,
        worker.sandboxed,
      );
    }
    if (!reply.ok) return failure(500, reply.error, reply.logs, started, worker.sandboxed);
    const text = reply.body.toString('utf8');
    let json: unknown;
    if (reply.json || /json/i.test(String(reply.headers['content-type'] ?? ''))) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    return {
      statusCode: reply.statusCode,
      headers: reply.headers,
      body: reply.body,
      text,
      json,
      logs: reply.logs,
      durationMs: Date.now() - started,
      sandboxed: worker.sandboxed,
    };
  } finally {
    clearTimeout(timer);
    worker.kill();
    await worker.exited;
    shims.cleanup();
  }
}
