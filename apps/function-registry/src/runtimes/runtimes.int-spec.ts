import { INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client } from 'pg';
import { FunctionPatterns, FunctionView, RuntimeView } from '@platform/contracts';
import { SettingsModule } from '@platform/config';
import { MessagingModule, RpcClient, RpcClientsModule } from '@platform/messaging';
import { interpreters, RUNTIMES } from '@platform/runtimes';
import { createTestDatabase, isolatedEnv, removeNamespace } from '@platform/testing';
import { startRegistry } from '../testing/start-registry';

describe('function registry: runtimes and the versions they really have', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let iso: ReturnType<typeof isolatedEnv>;
  let registry: INestApplication;
  let client: INestApplication;
  let rpc: RpcClient;
  const call = <T>(pattern: string, payload: unknown) => rpc.call<T>('function-registry', pattern, payload);
  const create = (body: Record<string, unknown>) => call<FunctionView>(FunctionPatterns.Create, body);

  beforeAll(async () => {
    db = await createTestDatabase();
    iso = isolatedEnv({ DATABASE_URL: db.url, REGISTRY_SECRETS_KEY: 'test-key-for-registry-secrets' });
    registry = await startRegistry(iso.env);
    @Module({ imports: [SettingsModule.forRoot({}, iso.env), MessagingModule.forRoot('test-client'), RpcClientsModule.register(['function-registry'])] })
    class ClientModule {}
    client = await NestFactory.create(ClientModule, { logger: false });
    await client.init();
    rpc = client.get(RpcClient);
  });

  afterAll(async () => {
    await client?.close();
    await registry?.close();
    await db?.drop();
    if (iso) await removeNamespace(iso.env.AMQP_URL, iso.env.HKS_NAMESPACE, ['function-registry']);
    iso?.cleanup();
  });

  it('lists every runtime of the descriptors with the versions installed, newest first, and its default', async () => {
    const list = await call<RuntimeView[]>(FunctionPatterns.ListRuntimes, {});
    expect(list.map((r) => r.name)).toEqual(RUNTIMES.map((r) => r.name));
    const node = list.find((r) => r.name === 'node')!;
    expect(node).toMatchObject({ title: 'Node.js', defaultVersion: process.versions.node, defaultTemplate: 'node', concurrency: 'event-loop' });
    expect(node.versions.map((v) => v.version)).toContain(process.versions.node);
    expect(node.aliases).toEqual(expect.arrayContaining(['node', 'nodejs20']));
    const python = list.find((r) => r.name === 'python')!;
    const installed = interpreters(RUNTIMES.find((r) => r.name === 'python')!);
    expect(python.defaultVersion).toBe(installed[0].version);
    expect(python.versions.map((v) => v.version)).toEqual([...new Set(installed.map((i) => i.version))].sort((a, b) => cmp(b, a)));
    expect(python.templates).toEqual(['python']);
  });

  it('runs nodejs16 on the installed Node.js and says so in the answer and the view, never silently', async () => {
    const f = await create({ label: 'old-node', runtime: 'nodejs16', handler: 'module.exports = (e) => e;' });
    const warning = `Node.js 16 is not installed here: "nodejs16" runs on Node.js ${process.versions.node}, the nearest newer version`;
    expect(f.resolvedRuntime).toEqual({ language: 'node', requested: 'nodejs16', version: process.versions.node, warning });
    expect(f.warnings).toEqual([warning]);
    const view = await call<FunctionView>(FunctionPatterns.Get, { id: 'old-node' });
    expect(view).toMatchObject({ resolvedRuntime: { version: process.versions.node, warning }, warnings: [warning] });
  });

  it('runs python3.9 on a 3.9 when one is installed (else the nearest newer, with the warning), and names the exact version', async () => {
    const f = await create({ label: 'py39', runtime: 'python3.9', handler: 'def handle(e):\n    return e\n' });
    const nines = interpreters(RUNTIMES.find((r) => r.name === 'python')!).filter((i) => i.version.startsWith('3.9.'));
    if (nines.length) {
      expect(f.resolvedRuntime).toEqual({ language: 'python', requested: 'python3.9', version: nines[0].version });
      expect(f.warnings).toEqual([]);
    } else {
      expect(f.resolvedRuntime.warning).toContain(`"python3.9" runs on Python ${f.resolvedRuntime.version}`);
    }
    const spec = await call<FunctionView>(FunctionPatterns.Update, { id: 'py39', changes: { runtime: 'python3.5' } });
    expect(spec.resolvedRuntime.warning).toMatch(/^Python 3\.5 is not installed here: "python3\.5" runs on Python 3\.\d+\.\d+, the nearest newer version$/);
    expect(spec.warnings).toEqual([spec.resolvedRuntime.warning]);
  });

  it('answers 400 listing the runtimes for an unknown one, and the versions for one newer than any installed', async () => {
    await expect(create({ label: 'go-fn', runtime: 'cobol85', handler: 'x' })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(
        /^runtime "cobol85" is not supported; the platform runs node \(node, nodejs, nodejs20, node20\.x\); python \(python, python3/,
      ),
    });
    await expect(create({ label: 'future', runtime: 'nodejs99', handler: 'x' })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringContaining(`runtime "nodejs99" asks for Node.js 99, which is newer than any installed here; available: ${process.versions.node}`),
    });
  });

  it('stores a family the database no longer checks: the code is the list', async () => {
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const r = await pg.query(`SELECT count(*)::int AS n FROM pg_constraint WHERE conname = 'functions_family_check'`);
      expect(r.rows[0].n).toBe(0);
    } finally {
      await pg.end();
    }
  });
});

function cmp(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}
