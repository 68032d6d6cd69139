import { INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Queue } from 'bullmq';
import { randomUUID } from 'crypto';
import { Client } from 'pg';
import {
  BuildJobData,
  BuildSource,
  buildSourceDigest,
  buildQueueName,
  bullPrefix,
  FunctionPage,
  FunctionPatterns,
  FunctionRuntimeSpec,
  FunctionVersionView,
  FunctionView,
  newEvent,
  PlatformEvent,
  SecretView,
} from '@platform/contracts';
import { effectiveConfigOf, resolveRuntime } from '@platform/runtimes';
import { redisConnectionOptions, SettingsModule } from '@platform/config';
import { EventPublisher, EventSubscriber, MessagingModule, RpcClient, RpcClientsModule } from '@platform/messaging';
import { createTestDatabase, isolatedEnv, removeNamespace, waitFor } from '@platform/testing';
import { BuildsService } from './builds/builds.service';
import { startRegistry } from './testing/start-registry';

describe('function registry over real Postgres, RabbitMQ and Redis', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let iso: ReturnType<typeof isolatedEnv>;
  let registry: INestApplication;
  let client: INestApplication;
  let rpc: RpcClient;
  let publisher: EventPublisher;
  let queue: Queue<BuildJobData>;
  let pg: Client;
  const seen: PlatformEvent[] = [];

  const call = <T>(pattern: string, payload: unknown) => rpc.call<T>('function-registry', pattern, payload);
  const create = (body: Record<string, unknown>) => call<FunctionView>(FunctionPatterns.Create, body);
  const get = (id: string) => call<FunctionView>(FunctionPatterns.Get, { id });
  const buildEvent = (name: string, status: 'PENDING' | 'SUCCESS' | 'FAILURE', f: FunctionView, payload: Record<string, unknown>) =>
    publisher.publish(
      newEvent({ name, type: 'FUNCTION_BUILD', status, source: 'builder', functionId: f.id, payload: { functionId: f.id, version: f.version, ...payload } }),
    );

  beforeAll(async () => {
    db = await createTestDatabase();
    iso = isolatedEnv({ DATABASE_URL: db.url, REGISTRY_SECRETS_KEY: 'test-key-for-registry-secrets' });
    registry = await startRegistry(iso.env);

    @Module({ imports: [SettingsModule.forRoot({}, iso.env), MessagingModule.forRoot('test-client'), RpcClientsModule.register(['function-registry'])] })
    class ClientModule {}
    client = await NestFactory.create(ClientModule, { logger: false });
    await client.init();
    rpc = client.get(RpcClient);
    publisher = client.get(EventPublisher);
    await client.get(EventSubscriber).subscribe({
      queue: 'capture',
      broadcast: true,
      bindings: ['function.*.*', 'build.queued.*'],
      handler: (events) => {
        seen.push(...events);
      },
    });
    queue = new Queue<BuildJobData>(buildQueueName(), { connection: redisConnectionOptions(iso.env.REDIS_URL), prefix: bullPrefix(iso.env.HKS_NAMESPACE) });
    pg = new Client({ connectionString: db.url });
    await pg.connect();
  });

  afterAll(async () => {
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    await pg?.end();
    await client?.close();
    await registry?.close();
    await db?.drop();
    if (iso) {
      await removeNamespace(iso.env.AMQP_URL, iso.env.HKS_NAMESPACE, ['function-registry'], ['function-registry.builds']);
      await removeNamespace(iso.env.AMQP_URL, `${iso.env.HKS_NAMESPACE}off`, ['function-registry'], ['function-registry.builds']);
    }
    iso?.cleanup();
  });

  describe('functions', () => {
    it('creates a function with its handler code and answers its view', async () => {
      const f = await create({ label: 'hello', runtime: 'node', handler: 'module.exports = (d) => d;', description: 'echo' });
      expect(f).toMatchObject({
        label: 'hello',
        description: 'echo',
        template: 'node',
        runtime: 'node',
        handler: 'module.exports = (d) => d;',
        files: null,
        entrypoint: 'handler.*',
        status: 'CREATED',
        statusReason: null,
        version: 1,
        build: null,
        invokeUrl: `/api/v1/functions/invoke/${f.id}`,
      });
      await waitFor(() => seen.find((e) => e.name === 'function.created' && e.functionId === f.id), { what: 'function.created' });
      const event = seen.find((e) => e.name === 'function.created' && e.functionId === f.id)!;
      expect(event).toMatchObject({ type: 'FUNCTION_CREATED', status: 'SUCCESS', source: 'function-registry', payload: { label: 'hello', version: 1 } });
    });

    it('answers 409 naming the label when it is taken', async () => {
      await expect(create({ label: 'hello', runtime: 'python', handler: 'def handle(e): return e' })).rejects.toMatchObject({
        statusCode: 409,
        message: expect.stringContaining('a function labelled "hello" already exists'),
      });
    });

    it('answers 400 naming the field or the rule that is broken', async () => {
      await expect(create({ label: 'Bad Label', runtime: 'node', handler: 'x' })).rejects.toMatchObject({
        statusCode: 400,
        message: expect.stringContaining('label must start with a lowercase letter, not "B"'),
      });
      await expect(create({ label: 'mixed', runtime: 'python', template: 'typescript', handler: 'x' })).rejects.toMatchObject({
        statusCode: 400,
        message: 'template "typescript" runs on node, but runtime "python" is python; use a node runtime or the python template',
      });
      await expect(create({ label: 'nocode', runtime: 'node' })).rejects.toMatchObject({ statusCode: 400, message: expect.stringContaining('send the code') });
      await expect(create({ label: 'extra', runtime: 'node', handler: 'x', colour: 'red' })).rejects.toMatchObject({
        statusCode: 400,
        message: 'unknown field "colour"',
      });
    });

    it("answers 400 for a config Knative's webhook would refuse, and stores nothing", async () => {
      const fn = (config: Record<string, unknown>) => create({ label: 'kn-limits', runtime: 'node', handler: 'module.exports = (d) => d;', config });
      await expect(fn({ env: { PORT: '9000', MODE: 'x' } })).rejects.toMatchObject({
        statusCode: 400,
        message: expect.stringContaining('config.env.PORT is reserved: Knative sets PORT, K_SERVICE, K_CONFIGURATION, K_REVISION'),
      });
      await expect(fn({ secrets: [{ env: 'K_REVISION', secret: 'db' }] })).rejects.toMatchObject({
        statusCode: 400,
        message: expect.stringContaining('config.secrets[0].env "K_REVISION" is reserved'),
      });
      await expect(fn({ resources: { timeoutMs: 600_001 } })).rejects.toMatchObject({
        statusCode: 400,
        message: expect.stringContaining('resources.timeoutMs 600001 is more than 600000 (10 minutes, the longest request Knative lets a revision take)'),
      });
      await expect(fn({ scaling: { minInstances: 5, maxInstances: 3 } })).rejects.toMatchObject({
        statusCode: 400,
        message: expect.stringContaining('config.scaling.minInstances (5) is more than maxInstances (3)'),
      });
      // maxInstances not set: its default (10) is the bound.
      await expect(fn({ scaling: { minInstances: 11 } })).rejects.toMatchObject({
        statusCode: 400,
        message: expect.stringContaining('config.scaling.minInstances (11) is more than maxInstances (10, the default)'),
      });
      await expect(get('kn-limits')).rejects.toMatchObject({ statusCode: 404 });
      // At the limits it is accepted.
      const ok = await fn({ env: { PORTS: '1' }, resources: { timeoutMs: 600_000 }, scaling: { minInstances: 10 } });
      expect(ok.config).toMatchObject({ resources: { timeoutMs: 600_000 }, scaling: { minInstances: 10 } });
    });

    it('refuses an update whose config Knative would refuse, and leaves the function as it was', async () => {
      const before = await get('kn-limits');
      await expect(
        call(FunctionPatterns.Update, { id: 'kn-limits', changes: { config: { scaling: { minInstances: 4, maxInstances: 2 } } } }),
      ).rejects.toMatchObject({
        statusCode: 400,
        message: expect.stringContaining('minInstances (4) is more than maxInstances (2)'),
      });
      await expect(call(FunctionPatterns.Update, { id: 'kn-limits', changes: { config: { env: { K_SERVICE: 'x' } } } })).rejects.toMatchObject({
        statusCode: 400,
        message: expect.stringContaining('config.env.K_SERVICE is reserved'),
      });
      expect(await get('kn-limits')).toMatchObject({ version: before.version, config: before.config });
      // The listing below counts the functions the other cases made.
      await call(FunctionPatterns.Delete, { id: 'kn-limits' });
    });

    it('keeps files with the entry point given as handler', async () => {
      const f = await create({
        label: 'pyfiles',
        runtime: 'python3.11',
        handler: 'function.handle',
        files: { 'function.py': 'def handle(r):\n    return {"ok": True}\n', 'requirements.txt': '' },
        config: { env: { GREETING: 'hi' }, scaling: { minInstances: 1 } },
      });
      expect(f).toMatchObject({ template: 'python', entrypoint: 'function.handle', config: { env: { GREETING: 'hi' }, scaling: { minInstances: 1 } } });
      expect(Object.keys(f.files!)).toEqual(['function.py', 'requirements.txt']);
    });

    it('finds a function by id or label and answers 404 for neither', async () => {
      const byLabel = await call<FunctionView>(FunctionPatterns.Resolve, { id: 'hello' });
      expect((await get(byLabel.id)).label).toBe('hello');
      await expect(get('nope')).rejects.toMatchObject({ statusCode: 404, message: 'function "nope" does not exist' });
      await expect(get(randomUUID())).rejects.toMatchObject({ statusCode: 404 });
    });

    it('resolves a function without its code: handler and files null, the rest as Get answers it', async () => {
      const full = await get('pyfiles');
      expect(full.files).not.toBeNull();
      expect(await call<FunctionView>(FunctionPatterns.Resolve, { id: 'pyfiles' })).toEqual({ ...full, handler: null, files: null });
    });

    it('lists functions newest first, with limit, offset and a label filter', async () => {
      const all = await call<FunctionPage>(FunctionPatterns.List, {});
      expect(all.items.map((f) => f.label)).toEqual(['pyfiles', 'hello']);
      expect(all.total).toBe(2);
      const page = await call<FunctionPage>(FunctionPatterns.List, { limit: 1, offset: 1 });
      expect(page).toMatchObject({ total: 2, limit: 1, offset: 1 });
      expect(page.items.map((f) => f.label)).toEqual(['hello']);
      expect((await call<FunctionPage>(FunctionPatterns.List, { label: 'pyf' })).items.map((f) => f.label)).toEqual(['pyfiles']);
      await expect(call(FunctionPatterns.List, { limit: 0 })).rejects.toMatchObject({ statusCode: 400, message: 'limit must be a whole number from 1 to 500' });
    });

    it('makes a new version when the code changes, and keeps the version for a new description', async () => {
      const before = await get('hello');
      const same = await call<FunctionView>(FunctionPatterns.Update, { id: 'hello', changes: { description: 'still echo' } });
      expect(same).toMatchObject({ version: before.version, description: 'still echo' });

      const changed = await call<FunctionView>(FunctionPatterns.Update, { id: before.id, changes: { handler: 'module.exports = () => 2;' } });
      expect(changed).toMatchObject({ version: before.version + 1, status: 'CREATED', handler: 'module.exports = () => 2;' });
      const versions = await pg.query('SELECT version, handler FROM registry.function_versions WHERE function_id = $1 ORDER BY version', [before.id]);
      expect(versions.rows).toEqual([
        { version: 1, handler: 'module.exports = (d) => d;' },
        { version: 2, handler: 'module.exports = () => 2;' },
      ]);
      await waitFor(() => seen.find((e) => e.name === 'function.updated' && (e.payload as { version: number }).version === 2), { what: 'function.updated' });
    });

    it('rejects an update that breaks the rules and leaves the function as it was', async () => {
      await expect(call(FunctionPatterns.Update, { id: 'pyfiles', changes: { handler: 'missing.handle' } })).rejects.toMatchObject({
        statusCode: 400,
        message: expect.stringContaining('entry point "missing.handle" needs the file missing.py'),
      });
      await expect(call(FunctionPatterns.Update, { id: 'pyfiles', changes: { label: 'hello' } })).rejects.toMatchObject({ statusCode: 409 });
      expect(await get('pyfiles')).toMatchObject({ version: 1, entrypoint: 'function.handle' });
    });
  });

  describe('builds', () => {
    it('marks the function BUILDING and puts a BullMQ job that names the version and its digest, never its code', async () => {
      const f = await call<FunctionView>(FunctionPatterns.RequestBuild, { id: 'pyfiles' });
      expect(f.status).toBe('BUILDING');
      expect(f.build).toMatchObject({ status: 'QUEUED', version: 1 });
      const job = await queue.getJob(f.build!.id);
      expect(job?.name).toBe('build');
      const source = {
        template: 'python',
        runtime: 'python3.11',
        family: 'python',
        // The exact version python3.11 runs on here: the build uses that interpreter.
        runtimeVersion: resolveRuntime('python3.11').resolved.version!,
        files: { 'function.py': 'def handle(r):\n    return {"ok": True}\n', 'requirements.txt': '' },
        entrypoint: 'function.handle',
        config: effectiveConfigOf({ env: { GREETING: 'hi' }, scaling: { minInstances: 1 } }, 'python'),
      } as const;
      expect(job?.data).toEqual({
        buildId: f.build!.id,
        functionId: f.id,
        label: 'pyfiles',
        version: 1,
        sourceDigest: buildSourceDigest(source),
        requestedAt: expect.any(String),
      });
      expect(JSON.stringify(job?.data)).not.toContain('def handle');
      // The builder reads the code over RPC when it runs the job.
      expect(await call(FunctionPatterns.GetBuildSource, { functionId: f.id, version: 1 })).toEqual(source);
      await expect(call(FunctionPatterns.GetBuildSource, { functionId: f.id, version: 99 })).rejects.toMatchObject({ statusCode: 404 });
      await waitFor(() => seen.find((e) => e.name === 'build.queued' && e.functionId === f.id), { what: 'build.queued' });
      expect(seen.find((e) => e.name === 'build.queued' && e.functionId === f.id)).toMatchObject({ type: 'FUNCTION_BUILD', status: 'PENDING' });
    });

    it('places handler code in the default file of the template', async () => {
      const f = await call<FunctionView>(FunctionPatterns.RequestBuild, { id: 'hello' });
      const job = await queue.getJob(f.build!.id);
      expect(job?.data).toMatchObject({ version: 2 });
      const source = await call(FunctionPatterns.GetBuildSource, { functionId: f.id, version: 2 });
      expect(source).toMatchObject({ files: { 'handler.js': 'module.exports = () => 2;' }, entrypoint: 'handler.*', family: 'node' });
      expect(job?.data.sourceDigest).toBe(buildSourceDigest(source as BuildSource));
    });

    it('answers 409 when the function is already building', async () => {
      await expect(call(FunctionPatterns.RequestBuild, { id: 'pyfiles' })).rejects.toMatchObject({
        statusCode: 409,
        message: expect.stringContaining('function pyfiles is already building'),
      });
    });

    it('answers 409 for the runtime spec while no build succeeded', async () => {
      const f = await get('pyfiles');
      await expect(call(FunctionPatterns.GetRuntimeSpec, { id: 'pyfiles' })).rejects.toMatchObject({
        statusCode: 409,
        message: `function pyfiles has no successful build; POST /api/v1/functions/build/${f.id} first`,
      });
    });

    it('moves to BUILT on build.succeeded and ignores results of a build that is not the latest', async () => {
      const f = await get('pyfiles');
      const buildId = f.build!.id;
      await buildEvent('build.started', 'PENDING', f, { buildId });
      await waitFor(async () => (await get('pyfiles')).build?.status === 'RUNNING', { what: 'build RUNNING' });
      await buildEvent('build.failed', 'FAILURE', f, { buildId: randomUUID(), error: 'stale' });
      await buildEvent('build.succeeded', 'SUCCESS', f, { buildId, bundleDigest: 'sha256:' + 'a'.repeat(64), image: null });
      const built = await waitFor(
        async () => {
          const v = await get('pyfiles');
          return v.status === 'BUILT' && v;
        },
        { what: 'BUILT' },
      );
      expect(built.statusReason).toBeNull();
      expect(built.build).toMatchObject({ id: buildId, status: 'SUCCEEDED', bundleDigest: 'sha256:' + 'a'.repeat(64), error: null });
      // The exact runtime version is recorded with the version and its build: what it runs on from now on.
      const recorded = await pg.query(
        `SELECT v.runtime_version, f.built_runtime_version FROM registry.function_versions v JOIN registry.functions f ON f.id = v.function_id
          WHERE v.function_id = $1 AND v.version = 1`,
        [f.id],
      );
      const exact = resolveRuntime('python3.11').resolved.version;
      expect(recorded.rows).toEqual([{ runtime_version: exact, built_runtime_version: exact }]);

      const spec = await call<FunctionRuntimeSpec>(FunctionPatterns.GetRuntimeSpec, { id: f.id });
      expect(spec).toEqual({
        functionId: f.id,
        label: 'pyfiles',
        version: 1,
        runtime: 'python3.11',
        family: 'python',
        runtimeVersion: resolveRuntime('python3.11').resolved.version,
        template: 'python',
        entrypoint: 'function.handle',
        bundleDigest: 'sha256:' + 'a'.repeat(64),
        image: null,
        config: effectiveConfigOf({ env: { GREETING: 'hi' }, scaling: { minInstances: 1 } }, 'python'),
      });
    });

    it("moves to FAILED with the builder's error on build.failed", async () => {
      const f = await get('hello');
      await buildEvent('build.failed', 'FAILURE', f, { buildId: f.build!.id, error: 'SyntaxError: Unexpected token' });
      const failed = await waitFor(
        async () => {
          const v = await get('hello');
          return v.status === 'FAILED' && v;
        },
        { what: 'FAILED' },
      );
      expect(failed.statusReason).toBe('build failed: SyntaxError: Unexpected token');
      expect(failed.build).toMatchObject({ status: 'FAILED', error: 'SyntaxError: Unexpected token', bundleDigest: null });
    });

    it('does not leave the function BUILDING when Redis is unreachable', async () => {
      const offline = await startRegistry({
        ...iso.env,
        HKS_NAMESPACE: `${iso.env.HKS_NAMESPACE}off`,
        REDIS_URL: 'redis://127.0.0.1:1',
        BUILD_QUEUE_TIMEOUT_MS: '1000',
      });
      try {
        const before = await get('hello');
        await expect(offline.get(BuildsService).requestBuild('hello')).rejects.toMatchObject({
          statusCode: 503,
          message: expect.stringContaining('the build queue (Redis) is unreachable'),
        });
        const after = await get('hello');
        expect(after).toMatchObject({ status: 'FAILED', build: before.build });
      } finally {
        await offline.close();
      }
    });

    it('resets the status to CREATED when the code changes after a build, so the old bundle is not deployed', async () => {
      await call(FunctionPatterns.Update, { id: 'pyfiles', changes: { config: { env: { GREETING: 'hello' } } } });
      const f = await get('pyfiles');
      expect(f).toMatchObject({ status: 'CREATED', version: 2 });
      await expect(call(FunctionPatterns.GetRuntimeSpec, { id: 'pyfiles' })).rejects.toMatchObject({
        statusCode: 409,
        message: expect.stringContaining('function pyfiles has no successful build of version 2'),
      });
    });
  });

  describe('versions', () => {
    it('lists every version with its build and digest, answers one with its code, and 404s a missing one', async () => {
      // pyfiles: version 1 built (sha256:aaa...), version 2 made by the config change above, never built.
      const list = await call<FunctionVersionView[]>(FunctionPatterns.ListVersions, { id: 'pyfiles' });
      expect(list.map((v) => v.version)).toEqual([2, 1]);
      expect(list[1]).toMatchObject({ version: 1, buildStatus: 'SUCCEEDED', bundleDigest: 'sha256:' + 'a'.repeat(64), config: { env: { GREETING: 'hi' } } });
      expect(list[0]).toMatchObject({ version: 2, buildStatus: null, bundleDigest: null, config: { env: { GREETING: 'hello' } } });
      expect(list[0].sourceDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(list[0].sourceDigest).not.toBe(list[1].sourceDigest);
      expect(list[0]).not.toHaveProperty('files');
      const one = await call<FunctionVersionView>(FunctionPatterns.GetVersion, { id: 'pyfiles', version: 1 });
      expect(one.files).toEqual(expect.objectContaining({ 'function.py': expect.any(String) }));
      await expect(call(FunctionPatterns.GetVersion, { id: 'pyfiles', version: 9 })).rejects.toMatchObject({
        statusCode: 404,
        message: expect.stringContaining('function pyfiles has no version 9 (its versions are 1 to 2'),
      });
      await expect(call(FunctionPatterns.GetVersion, { id: 'pyfiles', version: 'one' })).rejects.toMatchObject({ statusCode: 400 });
    });

    it("answers an older built version's runtime spec, and 409 for one never built", async () => {
      await call(FunctionPatterns.Update, { id: 'pyfiles', changes: { description: 'not a new version' } });
      const spec = await call<FunctionRuntimeSpec>(FunctionPatterns.GetRuntimeSpec, { id: 'pyfiles', version: 1 });
      expect(spec).toMatchObject({ version: 1, bundleDigest: 'sha256:' + 'a'.repeat(64), config: expect.objectContaining({ env: { GREETING: 'hi' } }) });
      await expect(call(FunctionPatterns.GetRuntimeSpec, { id: 'pyfiles', version: 2 })).rejects.toMatchObject({
        statusCode: 409,
        message: expect.stringContaining('function pyfiles has no successful build of version 2'),
      });
    });

    it('goes back to the old version (not a new one) when code and config are set back, deployable at once with its build', async () => {
      const back = await call<FunctionView>(FunctionPatterns.Update, {
        id: 'pyfiles',
        changes: { config: { env: { GREETING: 'hi' }, scaling: { minInstances: 1 } } },
      });
      expect(back).toMatchObject({ version: 1, status: 'BUILT' });
      const spec = await call<FunctionRuntimeSpec>(FunctionPatterns.GetRuntimeSpec, { id: 'pyfiles' });
      expect(spec).toMatchObject({ version: 1, bundleDigest: 'sha256:' + 'a'.repeat(64) });
      // A new change after that is version 3: numbers are never reused.
      const next = await call<FunctionView>(FunctionPatterns.Update, { id: 'pyfiles', changes: { config: { env: { GREETING: 'hey' } } } });
      expect(next).toMatchObject({ version: 3, status: 'CREATED' });
      const list = await call<FunctionVersionView[]>(FunctionPatterns.ListVersions, { id: 'pyfiles' });
      expect(list.map((v) => v.version)).toEqual([3, 2, 1]);
    });
  });

  describe('deployment status', () => {
    it('moves through DEPLOYING, READY, FAILED and back to BUILT when undeployed, keeping the reason, and ignores reports about older versions', async () => {
      const f = await get('pyfiles');
      const set = (body: Record<string, unknown>) =>
        call<FunctionView>(FunctionPatterns.SetDeploymentStatus, { functionId: f.id, version: f.version, ...body });
      expect((await set({ status: 'DEPLOYING' })).status).toBe('DEPLOYING');
      expect((await set({ status: 'READY' })).status).toBe('READY');
      expect(await set({ status: 'FAILED', reason: 'the invoker refused the bundle' })).toMatchObject({
        status: 'FAILED',
        statusReason: 'the invoker refused the bundle',
      });
      expect((await set({ status: 'READY', version: f.version - 1 })).status).toBe('FAILED');
      // Undeploying leaves the built bundle: the function goes back to BUILT.
      expect((await set({ status: 'BUILT', reason: 'undeployed' })).status).toBe('BUILT');
      await expect(set({ status: 'CREATED' })).rejects.toMatchObject({ statusCode: 400, message: 'status must be one of DEPLOYING, READY, FAILED, BUILT' });
    });
  });

  describe('secrets', () => {
    it('stores values encrypted and lists only names and keys', async () => {
      const put = await call<SecretView>(FunctionPatterns.PutSecret, { name: 'db', values: { password: 'hunter2', user: 'app' } });
      expect(put).toMatchObject({ name: 'db', keys: ['password', 'user'] });
      const list = await call<SecretView[]>(FunctionPatterns.ListSecrets, {});
      expect(list).toEqual([{ name: 'db', keys: ['password', 'user'], createdAt: expect.any(String), updatedAt: expect.any(String) }]);
      const raw = await pg.query('SELECT "values"::text AS v FROM registry.secrets WHERE name = $1', ['db']);
      expect(raw.rows[0].v).not.toContain('hunter2');
    });

    it("resolves a function's secret references to env values, and names what is missing", async () => {
      await call(FunctionPatterns.Update, {
        id: 'hello',
        changes: {
          config: {
            secrets: [
              { env: 'DB_PASSWORD', secret: 'db', key: 'password' },
              { env: 'API_TOKEN', secret: 'api' },
            ],
          },
        },
      });
      await expect(call(FunctionPatterns.ResolveSecrets, { functionId: 'hello' })).rejects.toMatchObject({
        statusCode: 409,
        message: 'function hello needs secret "api" for API_TOKEN, but it does not exist; create it with PUT /api/v1/secrets/api',
      });
      await call(FunctionPatterns.PutSecret, { name: 'api', values: { value: 't0ken' } });
      await expect(call(FunctionPatterns.ResolveSecrets, { functionId: 'hello' })).resolves.toEqual({ DB_PASSWORD: 'hunter2', API_TOKEN: 't0ken' });
    });

    it("resolves the secrets an older version's own config names when asked for that version (a rollback, an alias, a split)", async () => {
      const before = await get('hello');
      await call(FunctionPatterns.Update, { id: 'hello', changes: { config: { secrets: [{ env: 'DB_USER', secret: 'db', key: 'user' }] } } });
      const after = await get('hello');
      expect(after.version).toBe(before.version + 1);
      await expect(call(FunctionPatterns.ResolveSecrets, { functionId: 'hello' })).resolves.toEqual({ DB_USER: 'app' });
      await expect(call(FunctionPatterns.ResolveSecrets, { functionId: 'hello', version: after.version })).resolves.toEqual({ DB_USER: 'app' });
      await expect(call(FunctionPatterns.ResolveSecrets, { functionId: 'hello', version: before.version })).resolves.toEqual({
        DB_PASSWORD: 'hunter2',
        API_TOKEN: 't0ken',
      });
      await expect(call(FunctionPatterns.ResolveSecrets, { functionId: 'hello', version: after.version + 5 })).rejects.toMatchObject({
        statusCode: 404,
        message: expect.stringContaining(`function hello has no version ${after.version + 5}`),
      });
    });

    it('refuses a version that is not a whole number from 1 to 2147483647 with a 400 (never a database error)', async () => {
      for (const version of [2 ** 31, 1e20, 0, -1, 1.5, '2']) {
        for (const pattern of [FunctionPatterns.GetVersion, FunctionPatterns.GetRuntimeSpec, FunctionPatterns.ResolveSecrets]) {
          await expect(call(pattern, { id: 'hello', version })).rejects.toMatchObject({
            statusCode: 400,
            message: `version must be a whole number from 1 to 2147483647, not ${JSON.stringify(version)}`,
          });
        }
      }
    });

    it('validates names and deletes by name', async () => {
      await expect(call(FunctionPatterns.PutSecret, { name: 'Bad_Name', values: { a: 'b' } })).rejects.toMatchObject({ statusCode: 400 });
      await expect(call(FunctionPatterns.PutSecret, { name: 'empty', values: {} })).rejects.toMatchObject({
        statusCode: 400,
        message: expect.stringContaining('values is empty'),
      });
      expect(await call<SecretView>(FunctionPatterns.DeleteSecret, { name: 'api' })).toMatchObject({ name: 'api' });
      await expect(call(FunctionPatterns.DeleteSecret, { name: 'api' })).rejects.toMatchObject({ statusCode: 404, message: 'secret "api" does not exist' });
    });
  });

  it('deletes a function, publishes function.deleted and forgets it', async () => {
    const f = await get('hello');
    await call(FunctionPatterns.Delete, { id: 'hello' });
    await expect(get(f.id)).rejects.toMatchObject({ statusCode: 404 });
    await waitFor(() => seen.find((e) => e.name === 'function.deleted' && e.functionId === f.id), { what: 'function.deleted' });
    const versions = await pg.query('SELECT count(*)::int AS n FROM registry.function_versions WHERE function_id = $1', [f.id]);
    expect(versions.rows[0].n).toBe(0);
  });
});
