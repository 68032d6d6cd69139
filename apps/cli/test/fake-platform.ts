import type { FunctionView } from '@platform/contracts';
import { resolveRuntime } from '@platform/runtimes';
import { randomUUID } from 'crypto';
import { FakeGateway } from './fake-gateway';

export interface FakeFunctionOptions {
  /** The build ends FAILED with this reason and log. */
  buildFails?: { reason: string; log: string };
  /** The deploy ends FAILED with this reason. */
  deployFails?: string;
}

/**
 * The function lifecycle as the gateway shows it, scripted: a build is BUILDING for two polls, then BUILT (or
 * FAILED); a deploy answers 202 and is DEPLOYING for two polls, then READY (or FAILED).
 */
export class FakePlatform {
  readonly functions = new Map<string, FunctionView>();
  private readonly pending = new Map<string, { until: number; then: () => void }>();
  options: FakeFunctionOptions = {};

  constructor(readonly gw: FakeGateway) {
    const find = (ref: string) => [...this.functions.values()].find((f) => f.id === ref || f.label === ref);
    const notFound = (ref: string) => ({ status: 404, body: { statusCode: 404, error: 'Not Found', message: `function "${ref}" does not exist` } });
    gw.on('GET', '/api/v1/functions', () => ({ body: { items: [...this.functions.values()], total: this.functions.size, limit: 50, offset: 0 } }));
    gw.on('POST', '/api/v1/functions', (req) => {
      const body = req.body as Partial<FunctionView> & { handler: string };
      if ([...this.functions.values()].some((f) => f.label === body.label)) {
        return { status: 409, body: { statusCode: 409, error: 'Conflict', message: `a function labelled "${body.label}" already exists` } };
      }
      const now = new Date().toISOString();
      const view: FunctionView = {
        id: randomUUID(),
        label: body.label!,
        description: body.description ?? null,
        template: (body.template ?? (String(body.runtime).startsWith('python') ? 'python' : 'node')) as FunctionView['template'],
        runtime: body.runtime!,
        resolvedRuntime: resolveRuntime(body.runtime!).resolved,
        warnings: [resolveRuntime(body.runtime!).resolved.warning].filter((w): w is string => !!w),
        handler: body.handler,
        files: body.files ?? null,
        entrypoint: body.handler,
        config: body.config ?? {},
        status: 'CREATED' as FunctionView['status'],
        statusReason: null,
        version: 1,
        build: null,
        invokeUrl: `/api/v1/functions/invoke/${body.label}`,
        createdAt: now,
        updatedAt: now,
      };
      this.functions.set(view.id, view);
      return { status: 201, body: view };
    });
    gw.on('GET', '/api/v1/functions/:ref', (_req, [ref]) => {
      const f = find(ref);
      if (!f) return notFound(ref);
      this.advance(f);
      return { body: f };
    });
    gw.on('PUT', '/api/v1/functions/:ref', (req, [ref]) => {
      const f = find(ref);
      if (!f) return notFound(ref);
      const body = req.body as Partial<FunctionView> & { handler: string };
      const next = { runtime: body.runtime, files: body.files, entrypoint: body.handler, handler: body.handler, config: body.config };
      // Like the registry: only a change of code or configuration makes a new version that needs a build.
      const same = (Object.keys(next) as Array<keyof typeof next>).every((k) => JSON.stringify(f[k]) === JSON.stringify(next[k]));
      if (!same) Object.assign(f, next, { version: f.version + 1, status: 'CREATED' });
      return { body: f };
    });
    gw.on('DELETE', '/api/v1/functions/:ref', (_req, [ref]) => {
      const f = find(ref);
      if (!f) return notFound(ref);
      this.functions.delete(f.id);
      return { body: f };
    });
    gw.on('POST', '/api/v1/functions/build/:ref', (_req, [ref]) => {
      const f = find(ref);
      if (!f) return notFound(ref);
      const buildId = randomUUID();
      f.status = 'BUILDING' as FunctionView['status'];
      f.build = { id: buildId, status: 'QUEUED', version: f.version, bundleDigest: null, image: null, error: null, startedAt: null, finishedAt: null };
      this.later(f, () => {
        const fail = this.options.buildFails;
        f.status = (fail ? 'FAILED' : 'BUILT') as FunctionView['status'];
        f.statusReason = fail ? fail.reason : null;
        const now = new Date().toISOString();
        f.build = {
          id: buildId,
          status: fail ? 'FAILED' : 'SUCCEEDED',
          version: f.version,
          bundleDigest: fail ? null : `sha256:${'ab'.repeat(32)}`,
          image: null,
          error: fail?.reason ?? null,
          startedAt: now,
          finishedAt: now,
        };
      });
      return { status: 202, body: f };
    });
    gw.on('GET', '/api/v1/functions/:id/builds/:buildId', (_req, [id, buildId]) => ({
      body: { id: buildId, functionId: id, status: 'FAILED', log: this.options.buildFails?.log ?? '' },
    }));
    gw.on('POST', '/api/v1/functions/deploy/:ref', (_req, [ref]) => {
      const f = find(ref);
      if (!f) return notFound(ref);
      if (f.status !== 'BUILT') return { status: 409, body: { statusCode: 409, error: 'Conflict', message: `function ${f.label} has no successful build` } };
      f.status = 'DEPLOYING' as FunctionView['status'];
      this.later(f, () => {
        f.status = (this.options.deployFails ? 'FAILED' : 'READY') as FunctionView['status'];
        f.statusReason = this.options.deployFails ?? null;
      });
      return { status: 202, body: { status: 'DEPLOYING' } };
    });
    gw.on('DELETE', '/api/v1/functions/deploy/:ref', (_req, [ref]) => {
      const f = find(ref);
      if (!f) return notFound(ref);
      f.status = 'BUILT' as FunctionView['status'];
      return { body: { status: 'DELETED' } };
    });
  }

  private later(f: FunctionView, then: () => void): void {
    this.pending.set(f.id, { until: 2, then });
  }

  /** Each GET is a poll: the scripted change happens on the third one. */
  private advance(f: FunctionView): void {
    const p = this.pending.get(f.id);
    if (!p) return;
    if (p.until-- > 0) {
      if (f.build && f.status === 'BUILDING') f.build.status = 'RUNNING';
      return;
    }
    this.pending.delete(f.id);
    p.then();
  }
}
