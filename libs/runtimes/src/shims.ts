import { existsSync } from 'fs';
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

/** argv of a function image's entrypoint (HTTP server mode), with the shims copied to `shimRoot` in the image. */
export function shimServerCommand(family: RuntimeFamily, shimRoot = '/hks/shim'): string[] {
  return family === 'python'
    ? ['python3', '-I', '-B', path.posix.join(shimRoot, 'python', 'main.py'), '--http']
    : ['node', path.posix.join(shimRoot, 'node', 'index.js'), '--http'];
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
  decodeResult(body: Buffer): { meta: ResultMeta; body: Buffer };
  FrameReader: new (maxFrameBytes: number, onFrame: (type: number, id: number, body: Buffer) => void) => { push(chunk: Buffer): void };
}

export interface ShimContract {
  bodyIsText(contentType: string, body: Buffer): boolean;
  parseQuery(qs: string): Record<string, string | string[]>;
  dataInput(query: Record<string, string | string[]>, headers: Record<string, unknown>, body: Buffer): { value?: unknown; error?: string };
  httpInput(
    method: string,
    path: string,
    query: Record<string, string | string[]>,
    headers: Record<string, unknown>,
    body: Buffer,
  ): Record<string, unknown>;
}

// One implementation of the wire format and of the function contract, shared with the node shim.
// eslint-disable-next-line @typescript-eslint/no-var-requires
export const workerProtocol: ShimProtocol = require(path.join(shimDir(), 'node', 'lib', 'protocol.js'));
// eslint-disable-next-line @typescript-eslint/no-var-requires
export const functionContract: ShimContract = require(path.join(shimDir(), 'node', 'lib', 'contract.js'));
