import { Injectable } from '@nestjs/common';
import * as http from 'http';
import * as https from 'https';
import type { IncomingHttpHeaders } from 'http';
import { FunctionRuntimeSpec, InvocationRequestHeaders } from '@platform/contracts';
import { failure, InvocationOutcome } from './outcome';

/** Room for a scale from zero on the cluster on top of the function's own time limit. */
const COLD_START_ALLOWANCE_MS = 60_000;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host', 'content-length']);

const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

export interface ProxiedRequest {
  style: 'data' | 'http';
  method: string;
  /** Path below the function (HTTP style), e.g. "/orders/42". */
  path: string;
  query: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  invocationId: string;
}

/** Invocations of functions deployed on Knative: forwarded to the Knative Service URL. */
@Injectable()
export class KnativeProxy {
  invoke(url: string, spec: FunctionRuntimeSpec, r: ProxiedRequest): Promise<InvocationOutcome> {
    const target = new URL(url);
    const base = target.pathname.replace(/\/+$/, '');
    const path = `${base}${r.style === 'http' ? r.path : '/'}${r.query ? `?${r.query}` : ''}`;
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(r.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    headers[InvocationRequestHeaders.InvocationId] = r.invocationId;
    if (r.style === 'data') headers[InvocationRequestHeaders.Style] = 'data';
    headers['content-length'] = String(r.body.length);
    const limit = spec.config.resources.maxResponseBytes;
    const timeoutMs = spec.config.resources.timeoutMs + COLD_START_ALLOWANCE_MS;
    const client = target.protocol === 'https:' ? https : http;
    return new Promise<InvocationOutcome>((resolve) => {
      const req = client.request(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method: r.method,
          path,
          headers,
          agent: target.protocol === 'https:' ? agents.https : agents.http,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > limit) {
              res.destroy();
              resolve(
                failure(502, `function ${spec.label}: its response exceeds its limit of ${limit} bytes (resources.maxResponseBytes)`, 'payload-too-large'),
              );
            } else chunks.push(c);
          });
          res.on('end', () => {
            const out: Record<string, string | string[]> = {};
            for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
            const status = res.statusCode ?? 502;
            resolve({
              statusCode: status,
              headers: out,
              body: Buffer.concat(chunks, size),
              json: false,
              error: status >= 500 ? `function ${spec.label} answered ${status} on Knative` : undefined,
              reason: status >= 500 ? 'error' : undefined,
              logs: '',
              coldStart: false,
              startMs: null,
            });
          });
          res.on('error', (err) => resolve(failure(502, `function ${spec.label} on Knative broke off its answer: ${err.message}`, 'crash')));
        },
      );
      req.setTimeout(timeoutMs, () => {
        req.destroy();
        resolve(failure(504, `function ${spec.label} on Knative did not answer within ${timeoutMs} ms`, 'timeout'));
      });
      req.on('error', (err) => resolve(failure(502, `function ${spec.label} on Knative (${target.origin}) is unreachable: ${err.message}`, 'crash')));
      req.end(r.body);
    });
  }
}
