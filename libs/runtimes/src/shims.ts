import { chmodSync, cpSync, existsSync, readdirSync } from 'fs';
import * as path from 'path';
import type { RuntimeFamily } from '@platform/contracts';

/**
 * The runtime shims are plain JS and Python (no build step), so dist/ does not hold them: they are read
 * from the source tree. Looked up beside this file (source), from dist/ back to the repository, under
 * HKS_APP_ROOT (the platform image), or where HKS_SHIM_DIR says.
 */
export function shimDir(): string {
  const candidates = [
    process.env.HKS_SHIM_DIR,
    path.resolve(__dirname, '..', 'shims'),
    path.resolve(__dirname, '..', '..', '..', '..', 'libs', 'runtimes', 'shims'),
    process.env.HKS_APP_ROOT ? path.join(process.env.HKS_APP_ROOT, 'libs', 'runtimes', 'shims') : undefined,
  ];
  for (const dir of candidates) {
    if (dir && existsSync(path.join(dir, 'node', 'index.js')) && existsSync(path.join(dir, 'python', 'main.py'))) return dir;
  }
  throw new Error(`runtime shims not found (looked in ${candidates.filter(Boolean).join(', ')}); set HKS_SHIM_DIR`);
}

/** The shim's entry script of a runtime family, relative to the shim directory. */
export function shimEntry(family: RuntimeFamily): string {
  return family === 'python' ? path.join('python', 'main.py') : path.join('node', 'index.js');
}

/**
 * Copies the shims to `dest` (without bytecode caches), readable by anyone: a sandbox running as an
 * unprivileged uid may not reach them where the platform is installed (under /root, say).
 */
export function copyShims(dest: string): void {
  cpSync(shimDir(), dest, { recursive: true, filter: (src) => !src.includes('__pycache__') });
  makeReadable(dest);
}

/** Folders 0755, files 0644, all the way down. */
function makeReadable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) makeReadable(full);
    else chmodSync(full, 0o644);
  }
}

export interface ResultMeta {
  statusCode: number;
  headers: Record<string, string | string[]>;
  /** The body is the JSON of a plain value the handler returned. */
  json: boolean;
}

export interface ShimProtocol {
  Frame: {
    LOAD: 1;
    INVOKE: 2;
    HELLO: 10;
    LOADED: 11;
    LOAD_ERROR: 12;
    RESULT: 13;
    ERROR: 14;
    LOG: 15;
  };
  encode(type: number, id: number, body?: Buffer): Buffer[];
  encodeJson(type: number, id: number, value: unknown): Buffer[];
  encodeResult(id: number, meta: ResultMeta, body?: Buffer): Buffer[];
  decodeResult(body: Buffer): { meta: ResultMeta; body: Buffer };
  FrameReader: new (maxFrameBytes: number, onFrame: (type: number, id: number, body: Buffer) => void) => { push(chunk: Buffer): void };
}

export interface ShimContract {
  bodyIsText(contentType: string, body: Buffer): boolean;
  parseQuery(qs: string): Record<string, string | string[]>;
  dataInput(query: Record<string, string | string[]>, headers: Record<string, unknown>, body: Buffer): { value?: unknown; error?: string };
  httpInput(method: string, path: string, query: Record<string, string | string[]>, headers: Record<string, unknown>, body: Buffer): Record<string, unknown>;
  toResponse(result: unknown): { statusCode: number; headers: Record<string, string | string[]>; body: Buffer; json: boolean };
}

/** A module of the node shim, by file name: its folder is found at run time (shimDir), so it cannot be an import. */
function nodeShimModule(file: string): unknown {
  return module.require(path.join(shimDir(), 'node', 'lib', file));
}

// One implementation of the wire format and of the function contract, shared with the node shim.
export const workerProtocol = nodeShimModule('protocol.js') as ShimProtocol;
export const functionContract = nodeShimModule('contract.js') as ShimContract;
