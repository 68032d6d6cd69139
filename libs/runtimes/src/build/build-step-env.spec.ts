import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { buildStepEnv, runCommand } from './command';
import { npmInstall } from './node';
import { pipInstall } from './python';

/** The platform's credentials, as the builder's pod has them in its environment. */
const PLATFORM_SECRETS = {
  DATABASE_URL: 'postgres://hks:db-password@postgres:5432/hks',
  AMQP_URL: 'amqp://hks:mq-password@rabbitmq:5672',
  RABBITMQ_URL: 'amqp://hks:mq-password@rabbitmq:5672',
  REDIS_URL: 'redis://:redis-password@redis:6379',
  HKS_INTERNAL_TOKEN: 'internal-token',
  HKS_OCI_USERNAME: 'pusher',
  HKS_OCI_PASSWORD: 'oci-password',
  HKS_API_KEYS: 'api-key',
  REGISTRY_SECRETS_KEY: 'secrets-key',
  METRICS_TOKEN: 'metrics-token',
};
/** What a build step needs of it: path, home, proxies, the package registries' settings. */
const BUILD_SETTINGS = {
  HOME: '/tmp/builder-home',
  TMPDIR: '/tmp',
  HTTPS_PROXY: 'http://proxy.example:3128',
  NO_PROXY: '.cluster.local',
  npm_config_registry: 'https://npm.example/',
  npm_config_cache: '/tmp/.npm',
  PIP_INDEX_URL: 'https://pypi.example/simple',
};

describe('the environment of a build step', () => {
  let dir: string;
  let saved: NodeJS.ProcessEnv;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hks-step-env-'));
    saved = { ...process.env };
    Object.assign(process.env, PLATFORM_SECRETS, BUILD_SETTINGS, { HKS_DATA_DIR: '/var/lib/hks', HKS_ANY_SETTING: 'x' });
  });
  afterEach(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    rmSync(dir, { recursive: true, force: true });
  });

  /** A stand-in for npm or python that writes the environment it was started with, then succeeds. */
  function recorder(): { command: string; seen: () => Record<string, string> } {
    const out = path.join(dir, 'env.json');
    const command = path.join(dir, 'record-env');
    writeFileSync(command, `#!/usr/bin/env node\nrequire('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.env));\n`);
    chmodSync(command, 0o755);
    return { command, seen: () => JSON.parse(readFileSync(out, 'utf8')) as Record<string, string> };
  }

  function expectNoPlatformCredentials(env: Record<string, string>): void {
    for (const key of Object.keys(PLATFORM_SECRETS)) expect([key, env[key]]).toEqual([key, undefined]);
    expect(Object.keys(env).filter((k) => k.startsWith('HKS_'))).toEqual([]);
    const values = Object.values(env).join('\n');
    for (const secret of ['db-password', 'mq-password', 'redis-password', 'internal-token', 'oci-password']) expect(values).not.toContain(secret);
  }

  it('npm install sees no platform credential, and the registry, proxy and cache settings', async () => {
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'fn', version: '1.0.0', dependencies: { 'left-pad': '1.3.0' } }));
    const npm = recorder();
    await expect(npmInstall(dir, () => undefined, { npmCommand: npm.command })).resolves.toBe(true);
    const env = npm.seen();
    expectNoPlatformCredentials(env);
    expect(env).toMatchObject({ ...BUILD_SETTINGS, PATH: process.env.PATH, npm_config_color: 'false' });
  });

  it('pip install sees no platform credential, and the index, proxy and home settings', async () => {
    writeFileSync(path.join(dir, 'requirements.txt'), 'requests==2.31.0\n');
    const python = recorder();
    await expect(pipInstall(dir, () => undefined, { python: python.command, indexUrl: 'https://pypi.example/simple' })).resolves.toBe(true);
    const env = python.seen();
    expectNoPlatformCredentials(env);
    expect(env).toMatchObject({ ...BUILD_SETTINGS, PATH: process.env.PATH, PIP_NO_INPUT: '1', PYTHONNOUSERSITE: '1' });
  });

  it('any other step run without an explicit environment gets the allow-list too', async () => {
    const step = recorder();
    const r = await runCommand(step.command, [], { cwd: dir, log: () => undefined });
    expect(r.code).toBe(0);
    expectNoPlatformCredentials(step.seen());
    expect(step.seen().HOME).toBe(BUILD_SETTINGS.HOME);
  });

  it('keeps only allowed names of a given environment, and adds the extra ones', () => {
    expect(buildStepEnv({ GOFLAGS: '-mod=vendor' }, { PATH: '/bin', DATABASE_URL: 'x', HKS_OCI_PASSWORD: 'y', npm_config_proxy: 'p', LANG: 'C' })).toEqual({
      PATH: '/bin',
      npm_config_proxy: 'p',
      LANG: 'C',
      GOFLAGS: '-mod=vendor',
    });
  });
});
