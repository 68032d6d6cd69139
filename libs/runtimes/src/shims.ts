import * as path from 'path';
import { runtimeDir } from './runtimes-dir';

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

/** A module of the node shim, by file name: its folder is found at run time (runtimesDir), so it cannot be an import. */
function nodeShimModule(file: string): unknown {
  return module.require(path.join(runtimeDir('node'), 'shim', 'lib', file));
}

// One implementation of the wire format and of the function contract, shared with the node shim.
export const workerProtocol = nodeShimModule('protocol.js') as ShimProtocol;
export const functionContract = nodeShimModule('contract.js') as ShimContract;
