import { randomUUID } from 'crypto';
import { writeFileSync } from 'fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';
import { isDeepStrictEqual } from 'util';
import { unknownFields, validateAgainstSchema } from '../../../deploy/test/support/api-schema';
import type { K8sObject } from '../../../deploy/test/support/manifests';
import { knativeServiceValidator } from './knative-crd';

type Obj = { metadata: Record<string, unknown> & { name: string; namespace: string }; spec?: unknown; status?: Record<string, unknown> } & Record<
  string,
  unknown
>;

/** How the fake Knative controller answers a Service once it has seen it. */
export type Outcome =
  | { kind: 'ready'; afterMs: number }
  | { kind: 'fail'; afterMs: number; reason: string; message: string }
  /** Observed but never ready: Ready stays Unknown, as while a revision's pods cannot start. */
  | { kind: 'stuck'; afterMs: number };

const PATH = /^\/apis\/serving\.knative\.dev\/v1\/namespaces\/([^/]+)\/services(?:\/([^/]+))?$/;
const SECRETS_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/;
/** A Secret's name: a DNS-1123 subdomain (lowercase alphanumerics, '-' and '.', at most 253). */
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

export type SecretObj = {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & { name: string; namespace?: string; labels?: Record<string, string> };
  type?: string;
  data?: Record<string, string>;
};

/**
 * A small Kubernetes API server for Knative Services, with the REST semantics the driver relies on: create (409
 * AlreadyExists), get (404 NotFound), replace guarded by metadata.resourceVersion (409 Conflict), delete, and
 * ?watch=true streaming {type, object} lines. Errors are Kubernetes Status objects. Bodies are checked against the
 * CRD schema (422 Invalid). A fake controller moves a Service to Ready=True (or False) a moment after each write.
 */
export class FakeKubeApi {
  readonly token = `token-${randomUUID()}`;
  readonly requests: Array<{ method: string; path: string; body?: Obj }> = [];
  private readonly objects = new Map<string, Obj>();
  private readonly secrets = new Map<string, SecretObj>();
  private readonly watchers = new Set<{ ns: string; name?: string; res: ServerResponse }>();
  private readonly outcomes = new Map<string, Outcome>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly validate = knativeServiceValidator();
  private server?: Server;
  private rv = 100;
  /** Called just before a replace is applied: lets a test play another writer. */
  beforeReplace?: (current: Obj) => void;
  /** Answer watches with 403, as a cluster whose RBAC grants get but not watch. */
  forbidWatch = false;
  url = '';

  /** What the controller does with the named Service (default: Ready after 150 ms). */
  setOutcome(name: string, outcome: Outcome): void {
    this.outcomes.set(name, outcome);
  }

  object(ns: string, name: string): Obj | undefined {
    return this.objects.get(`${ns}/${name}`);
  }

  /** The stored Secret (data base64, as the API keeps it). */
  secret(ns: string, name: string): SecretObj | undefined {
    return this.secrets.get(`${ns}/${name}`);
  }

  /** Every stored Secret of a namespace. */
  secretsIn(ns: string): SecretObj[] {
    return [...this.secrets.values()].filter((s) => s.metadata.namespace === ns);
  }

  /** A Secret's data decoded. */
  secretValues(ns: string, name: string): Record<string, string> | undefined {
    const found = this.secret(ns, name);
    return found && Object.fromEntries(Object.entries(found.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  }

  /** Writes a Secret directly, as another client would. */
  putSecret(obj: SecretObj): void {
    obj.metadata.resourceVersion = String(++this.rv);
    obj.metadata.uid ??= randomUUID();
    this.secrets.set(`${obj.metadata.namespace}/${obj.metadata.name}`, obj);
  }

  /** Called before a Secret write is applied; a status code answers it instead (a failure injected by a test). */
  failSecretWrite?: (method: string, body: SecretObj | undefined) => number | undefined;

  /** Writes a Service directly, as another client would. */
  put(obj: Obj): void {
    this.store(obj, 'ADDED');
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A kubeconfig file pointing at this server. */
  writeKubeconfig(dir: string): string {
    const file = path.join(dir, 'kubeconfig.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: fake\n  cluster:\n    server: ${this.url}\n    insecure-skip-tls-verify: true`,
        'users:',
        `- name: deployer\n  user:\n    token: ${this.token}`,
        'contexts:',
        '- name: fake\n  context:\n    cluster: fake\n    user: deployer',
        'current-context: fake',
        '',
      ].join('\n'),
    );
    return file;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = PATH.exec(url.pathname);
    const text = await new Promise<string>((resolve) => {
      let s = '';
      req.on('data', (c) => (s += c)).on('end', () => resolve(s));
    });
    const body = text ? (JSON.parse(text) as Obj) : undefined;
    this.requests.push({ method: req.method ?? '', path: url.pathname + url.search, body });
    if (req.headers.authorization !== `Bearer ${this.token}`) return status(res, 401, 'Unauthorized', 'Unauthorized');
    const sm = SECRETS_PATH.exec(url.pathname);
    if (sm) return this.handleSecret(req.method ?? '', sm[1], sm[2], url, body as unknown as SecretObj | undefined, res);
    if (!m) return status(res, 404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    const [, ns, name] = m;
    const key = `${ns}/${name}`;
    const existing = name ? this.objects.get(key) : undefined;

    if (req.method === 'GET' && !name && url.searchParams.get('watch') === 'true') {
      if (this.forbidWatch) return status(res, 403, 'Forbidden', 'services.serving.knative.dev is forbidden: User "deployer" cannot watch resource "services"');
      return this.watch(ns, url, res);
    }
    if (req.method === 'GET' && name) return existing ? json(res, 200, existing) : notFound(res, name);
    if (req.method === 'POST' && !name) {
      if (!body?.metadata?.name) return status(res, 422, 'Invalid', 'metadata.name: Required value');
      if (this.objects.has(`${ns}/${body.metadata.name}`))
        return status(res, 409, 'AlreadyExists', `services.serving.knative.dev "${body.metadata.name}" already exists`, body.metadata.name);
      const invalid = this.schemaProblems(body);
      if (invalid) return status(res, 422, 'Invalid', `Service.serving.knative.dev "${body.metadata.name}" is invalid: ${invalid}`);
      const created: Obj = {
        ...body,
        metadata: { ...body.metadata, namespace: ns, uid: randomUUID(), generation: 1, creationTimestamp: new Date().toISOString() },
        status: { observedGeneration: 0, conditions: [{ type: 'Ready', status: 'Unknown', reason: 'Pending' }] },
      };
      this.store(created, 'ADDED');
      this.reconcileLater(created);
      return json(res, 201, this.objects.get(`${ns}/${created.metadata.name}`));
    }
    if (req.method === 'PUT' && name) {
      if (!existing) return notFound(res, name);
      this.beforeReplace?.(existing);
      this.beforeReplace = undefined;
      const current = this.objects.get(key)!;
      if (body?.metadata?.resourceVersion !== current.metadata.resourceVersion) {
        return status(
          res,
          409,
          'Conflict',
          `Operation cannot be fulfilled on services.serving.knative.dev "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          name,
        );
      }
      const invalid = this.schemaProblems(body);
      if (invalid) return status(res, 422, 'Invalid', `Service.serving.knative.dev "${name}" is invalid: ${invalid}`);
      // Knative's webhook: a named revision template is immutable (a change needs a new name).
      const before = (current.spec as { template?: { metadata?: { name?: string } } } | undefined)?.template;
      const after = (body!.spec as { template?: { metadata?: { name?: string } } } | undefined)?.template;
      if (before?.metadata?.name && before.metadata.name === after?.metadata?.name && !isDeepStrictEqual(before, after))
        return status(
          res,
          400,
          'BadRequest',
          `admission webhook "validation.webhook.serving.knative.dev" denied the request: validation failed: Saw the following changes without a name change (-old +new): spec.template`,
        );
      const specChanged = !isDeepStrictEqual(body!.spec, current.spec);
      const generation = (current.metadata.generation as number) + (specChanged ? 1 : 0);
      const replaced: Obj = {
        ...body!,
        metadata: { ...body!.metadata, uid: current.metadata.uid, generation, creationTimestamp: current.metadata.creationTimestamp },
        status: current.status,
      };
      this.store(replaced, 'MODIFIED');
      if (specChanged) this.reconcileLater(replaced);
      return json(res, 200, this.objects.get(key));
    }
    if (req.method === 'DELETE' && name) {
      if (!existing) return notFound(res, name);
      this.objects.delete(key);
      this.emit('DELETED', existing);
      return json(res, 200, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name, group: 'serving.knative.dev', kind: 'services', uid: existing.metadata.uid },
      });
    }
    return status(res, 405, 'MethodNotAllowed', `${req.method} is not supported here`);
  }

  /** core/v1 Secrets: create (409), get (404), list by labelSelector, replace guarded by resourceVersion, delete. */
  private handleSecret(method: string, ns: string, name: string | undefined, url: URL, body: SecretObj | undefined, res: ServerResponse): void {
    const key = `${ns}/${name}`;
    const existing = name ? this.secrets.get(key) : undefined;
    const gone = (n: string) => status(res, 404, 'NotFound', `secrets "${n}" not found`, n, 'secrets');
    if (method === 'GET' && name) return existing ? json(res, 200, existing) : gone(name);
    if (method === 'GET') {
      const selector = (url.searchParams.get('labelSelector') ?? '').split(',').filter(Boolean);
      const items = this.secretsIn(ns).filter((s) =>
        selector.every((term) => {
          const [k, v] = term.split('=');
          return s.metadata.labels?.[k] === v;
        }),
      );
      return json(res, 200, { kind: 'SecretList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items });
    }
    if (method === 'DELETE' && name) {
      if (!existing) return gone(name);
      this.secrets.delete(key);
      return json(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: 'secrets' } });
    }
    if ((method === 'POST' && !name) || (method === 'PUT' && name)) {
      const injected = this.failSecretWrite?.(method, body);
      if (injected) return status(res, injected, 'InternalError', 'injected failure');
      const target = name ?? body?.metadata?.name;
      if (!body || !target) return status(res, 422, 'Invalid', 'metadata.name: Required value');
      const invalid = secretProblems(body);
      if (invalid.length) return status(res, 422, 'Invalid', `Secret "${target}" is invalid: ${invalid.join(', ')}`, target, 'secrets');
      const stored = this.secrets.get(`${ns}/${target}`);
      if (method === 'POST') {
        if (stored) return status(res, 409, 'AlreadyExists', `secrets "${target}" already exists`, target, 'secrets');
        const created: SecretObj = { ...body, metadata: { ...body.metadata, namespace: ns, uid: randomUUID(), creationTimestamp: new Date().toISOString() } };
        this.putSecret(created);
        return json(res, 201, created);
      }
      if (!stored) return gone(target);
      if (body.metadata.resourceVersion !== stored.metadata.resourceVersion)
        return status(res, 409, 'Conflict', `Operation cannot be fulfilled on secrets "${target}": the object has been modified`, target, 'secrets');
      if (stored.type !== body.type)
        return status(res, 422, 'Invalid', `Secret "${target}" is invalid: type: Invalid value: field is immutable`, target, 'secrets');
      const replaced: SecretObj = {
        ...body,
        metadata: { ...body.metadata, namespace: ns, uid: stored.metadata.uid, creationTimestamp: stored.metadata.creationTimestamp },
      };
      this.putSecret(replaced);
      return json(res, 200, replaced);
    }
    return status(res, 405, 'MethodNotAllowed', `${method} is not supported here`);
  }

  /** What the CRD schema says is wrong with a body, or null. */
  private schemaProblems(body: unknown): string | null {
    if (this.validate(body)) return null;
    return (this.validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join(', ');
  }

  private store(obj: Obj, type: 'ADDED' | 'MODIFIED'): void {
    obj.metadata.resourceVersion = String(++this.rv);
    this.objects.set(`${obj.metadata.namespace}/${obj.metadata.name}`, obj);
    this.emit(type, obj);
  }

  /** The fake controller: after a moment the current generation becomes Ready=True or Ready=False. */
  private reconcileLater(obj: Obj): void {
    const outcome = this.outcomes.get(obj.metadata.name) ?? { kind: 'ready', afterMs: 150 };
    const { name, namespace, generation } = obj.metadata;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const current = this.objects.get(`${namespace}/${name}`);
      if (!current || current.metadata.generation !== generation) return;
      const ready =
        outcome.kind === 'ready'
          ? { type: 'Ready', status: 'True' }
          : outcome.kind === 'stuck'
            ? { type: 'Ready', status: 'Unknown', reason: 'RevisionMissing', message: `Configuration "${name}" is waiting for a Revision to become ready.` }
            : { type: 'Ready', status: 'False', reason: outcome.reason, message: outcome.message };
      // As Knative does: the address is always the cluster-local one; the URL is public unless the Service is cluster-local.
      const local = `http://${name}.${namespace}.svc.cluster.local`;
      const visibility = (current.metadata.labels as Record<string, string> | undefined)?.['networking.knative.dev/visibility'];
      const url =
        outcome.kind === 'ready' ? { url: visibility === 'cluster-local' ? local : `http://${name}.${namespace}.example.com`, address: { url: local } } : {};
      this.store({ ...current, status: { observedGeneration: generation, ...url, conditions: [ready] } }, 'MODIFIED');
    }, outcome.afterMs);
    this.timers.add(timer);
  }

  private watch(ns: string, url: URL, res: ServerResponse): void {
    const selector = url.searchParams.get('fieldSelector') ?? '';
    const name = /^metadata\.name=(.+)$/.exec(selector)?.[1];
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const watcher = { ns, name, res };
    this.watchers.add(watcher);
    // Without a resourceVersion the API starts with ADDED for what exists.
    for (const obj of this.objects.values()) {
      if (obj.metadata.namespace === ns && (!name || obj.metadata.name === name)) res.write(JSON.stringify({ type: 'ADDED', object: obj }) + '\n');
    }
    const seconds = Number(url.searchParams.get('timeoutSeconds') ?? '0');
    const timer = seconds > 0 ? setTimeout(() => res.end(), seconds * 1000) : undefined;
    res.on('close', () => {
      if (timer) clearTimeout(timer);
      this.watchers.delete(watcher);
    });
  }

  private emit(type: string, obj: Obj): void {
    for (const w of this.watchers) {
      if (w.ns === obj.metadata.namespace && (!w.name || w.name === obj.metadata.name)) w.res.write(JSON.stringify({ type, object: obj }) + '\n');
    }
  }
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/**
 * What the API server would refuse in a Secret: the core/v1 schema (kubernetes-models, and client-node's field list
 * for misplaced fields, as deploy/test checks the manifests), a DNS-1123 subdomain name, keys and base64 values.
 */
export function secretProblems(body: SecretObj): string[] {
  const problems: string[] = [];
  try {
    validateAgainstSchema(body as unknown as K8sObject);
  } catch (err) {
    problems.push((err as Error).message);
  }
  problems.push(...unknownFields(body as unknown as K8sObject));
  const name = body.metadata?.name;
  if (typeof name !== 'string' || name.length > 253 || !SUBDOMAIN.test(name)) problems.push(`metadata.name: Invalid value: ${JSON.stringify(name)}`);
  for (const [k, v] of Object.entries(body.data ?? {})) {
    if (!SECRET_KEY.test(k)) problems.push(`data[${k}]: a valid config key must consist of alphanumeric characters, '-', '_' or '.'`);
    if (typeof v !== 'string' || Buffer.from(v, 'base64').toString('base64') !== v) problems.push(`data[${k}]: not base64`);
  }
  for (const [k, v] of Object.entries(body.metadata?.labels ?? {}))
    if (typeof v !== 'string' || v.length > 63 || !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v))
      problems.push(`metadata.labels: Invalid value: "${k}=${v}"`);
  if (body.type === 'kubernetes.io/dockerconfigjson') {
    const config = body.data?.['.dockerconfigjson'];
    if (!config) problems.push('data[.dockerconfigjson]: Required value');
    else
      try {
        JSON.parse(Buffer.from(config, 'base64').toString('utf8'));
      } catch {
        problems.push('data[.dockerconfigjson]: Invalid value: not valid JSON');
      }
  }
  return problems;
}

function status(res: ServerResponse, code: number, reason: string, message: string, name?: string, kind = 'services'): void {
  json(res, code, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(name ? { details: { name, ...(kind === 'services' ? { group: 'serving.knative.dev' } : {}), kind } } : {}),
    code,
  });
}

function notFound(res: ServerResponse, name: string): void {
  status(res, 404, 'NotFound', `services.serving.knative.dev "${name}" not found`, name);
}
