import { ChildProcess, spawn } from 'child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import * as path from 'path';
import { runtimeSpec } from '../../../test-fixtures/runtime-spec';
import { functionSecret } from './function-secrets';
import { knativeService } from './knative-service';

const RUNTIMES = path.resolve(__dirname, '../../../../../libs/runtimes/runtimes');
const SDK_VECTOR = JSON.parse(readFileSync(path.join(RUNTIMES, 'vectors/sdk.json'), 'utf8')) as {
  handlers: Record<string, { entrypoint: string; files: Record<string, string> }>;
};

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The container's environment as the kubelet gives it: plain values as they are, each secretKeyRef read from the
 * Secret the driver writes for the version.
 */
function containerEnv(): Record<string, string> {
  const spec = runtimeSpec(
    { label: 'sdk-fn' },
    {
      env: { MODE: 'x' },
      secrets: [
        { env: 'OPENAI_API_KEY', secret: 'openai' },
        { env: 'DB_USER', secret: 'db', key: 'user' },
      ],
    },
  );
  const secret = functionSecret(spec, 'functions', { OPENAI_API_KEY: 'sk-test-123', DB_USER: 'app' });
  const env: Record<string, string> = {};
  for (const e of knativeService(spec, 'functions', 'd').spec.template.spec.containers[0].env) {
    if (e.value !== undefined) env[e.name] = e.value;
    else {
      const ref = e.valueFrom!.secretKeyRef;
      expect(ref.name).toBe(secret.metadata!.name);
      env[e.name] = Buffer.from(secret.data![ref.key], 'base64').toString('utf8');
    }
  }
  return env;
}

describe("the function SDK's get_secret in an image run by Knative (the shims in http mode, with the Service's env)", () => {
  let dir: string;
  let child: ChildProcess | undefined;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hks-kn-sdk-'));
  });

  afterEach(() => {
    child?.kill('SIGKILL');
    child = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function call(port: number, body: unknown): Promise<{ status: number; json: unknown }> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-hks-invocation-style': 'data' },
          body: JSON.stringify(body),
        });
        return { status: res.status, json: await res.json() };
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  const cases: Array<[string, () => string[]]> = [
    [
      'node',
      () => {
        cpSync(path.join(RUNTIMES, 'node/sdk/hexabase'), path.join(dir, 'node_modules/hexabase'), { recursive: true });
        return ['node', path.join(RUNTIMES, 'node/shim/index.js'), '--http'];
      },
    ],
    ['python', () => ['python3', '-I', path.join(RUNTIMES, 'python/shim/main.py'), '--http']],
  ];

  it.each(cases)(
    '%s: gets each secret by its name, name/key and variable, and names those it has for an unknown one',
    async (runtime, command) => {
      const handler = SDK_VECTOR.handlers[runtime];
      for (const [file, text] of Object.entries(handler.files)) writeFileSync(path.join(dir, file), text);
      const [bin, ...args] = command();
      const port = await freePort();
      child = spawn(bin, args, {
        env: { PATH: process.env.PATH, ...containerEnv(), PORT: String(port), HOST: '127.0.0.1', HKS_CODE_DIR: dir, HKS_ENTRYPOINT: handler.entrypoint },
        stdio: 'ignore',
      });
      await expect(call(port, { data: { secret: 'openai' } })).resolves.toMatchObject({ status: 200, json: { value: 'sk-test-123' } });
      await expect(call(port, { data: { secret: 'db/user' } })).resolves.toMatchObject({ status: 200, json: { value: 'app' } });
      await expect(call(port, { data: { secret: 'DB_USER' } })).resolves.toMatchObject({ status: 200, json: { value: 'app' } });
      const unknown = await call(port, { data: { secret: 'nope' } });
      expect(unknown.status).toBe(500);
      expect(JSON.stringify(unknown.json)).toContain('openai');
    },
    60_000,
  );
});
