import { spawnSync } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { copyArguments, excludedByDockerignore, parseDockerfile, Stage } from './support/dockerfile';
import { mustFind, PLATFORM_APPS, PLATFORM_NAMESPACE, platformObjects, REPO_ROOT } from './support/manifests';

const DOCKERFILE = path.join(REPO_ROOT, 'Dockerfile');
const DOCKERIGNORE = path.join(REPO_ROOT, '.dockerignore');
const ENTRYPOINT = path.join(REPO_ROOT, 'deploy', 'docker', 'entrypoint.sh');
const stages = parseDockerfile(DOCKERFILE);
const stage = (name: string): Stage => {
  const found = stages.find((s) => s.name === name);
  if (!found) throw new Error(`the Dockerfile has no stage "${name}"`);
  return found;
};
const runs = (s: Stage) =>
  s.instructions
    .filter((i) => i.keyword === 'RUN')
    .map((i) => i.args)
    .join('\n');
const copies = (s: Stage) => s.instructions.filter((i) => i.keyword === 'COPY').map((i) => copyArguments(i.args));

describe('Dockerfile', () => {
  it('builds in a node:20-bookworm-slim stage and ends in a runtime stage on the same base', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    for (const s of stages) expect(s.base).toBe('node:20-bookworm-slim');
  });

  it('installs the locked dependencies, compiles, then prunes to production dependencies', () => {
    const script = runs(stage('build'));
    const order = ['npm ci', 'npm run build', 'npm prune --omit=dev'].map((step) => script.indexOf(step));
    expect(order).not.toContain(-1);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('installs bubblewrap and python3 in the runtime stage, for the invoker and the builder', () => {
    const script = runs(stage('runtime'));
    expect(script).toMatch(/apt-get install[^\n]*\bbubblewrap\b/);
    expect(script).toMatch(/apt-get install[^\n]*\bpython3\b/);
  });

  it('copies the compiled code, production node_modules and the runtime shims from the build stage', () => {
    const fromBuild = copies(stage('runtime'))
      .filter((c) => c.from === 'build')
      .flatMap((c) => c.sources);
    expect(fromBuild).toEqual(expect.arrayContaining(['/app/dist', '/app/node_modules', '/app/libs/runtimes']));
  });

  it('runs as the non-root uid that the Kubernetes manifests require', () => {
    const users = stage('runtime').instructions.filter((i) => i.keyword === 'USER');
    expect(users).toHaveLength(1);
    const [uid, gid] = users[0].args.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
    expect(runs(stage('runtime'))).toContain(`--uid ${uid}`);
    const objects = platformObjects();
    for (const app of PLATFORM_APPS) {
      const pod = mustFind(objects, 'Deployment', app.name, PLATFORM_NAMESPACE).spec.template.spec;
      expect([app.name, pod.securityContext.runAsUser]).toEqual([app.name, uid]);
    }
  });

  it('starts through tini and the entrypoint script, which picks the app from the argument', () => {
    const entry = stage('runtime').instructions.filter((i) => i.keyword === 'ENTRYPOINT');
    expect(entry).toHaveLength(1);
    const argv = JSON.parse(entry[0].args) as string[];
    expect(argv[0]).toBe('/usr/bin/tini');
    const script = argv[argv.length - 1];
    const copied = copies(stage('runtime')).find((c) => c.dest === script);
    expect(copied?.sources).toEqual(['deploy/docker/entrypoint.sh']);
  });

  it('exposes the six agreed ports', () => {
    const exposed = stage('runtime')
      .instructions.filter((i) => i.keyword === 'EXPOSE')
      .flatMap((i) => i.args.split(/\s+/).map(Number));
    expect(exposed.sort()).toEqual(PLATFORM_APPS.map((a) => a.port).sort());
  });

  it('copies only sources that exist and that .dockerignore lets into the build context', () => {
    const sources = stages.flatMap((s) =>
      copies(s)
        .filter((c) => !c.from)
        .flatMap((c) => c.sources),
    );
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect([source, existsSync(path.join(REPO_ROOT, source))]).toEqual([source, true]);
      expect([source, excludedByDockerignore(DOCKERIGNORE, source)]).toEqual([source, false]);
    }
  });

  it('keeps local build output and state out of the context, but not what the build needs', () => {
    for (const p of ['node_modules', 'node_modules/yaml/package.json', 'dist', '.git', '.hks', 'apps/gateway/src/foo.spec.ts']) {
      expect([p, excludedByDockerignore(DOCKERIGNORE, p)]).toEqual([p, true]);
    }
    for (const p of [
      'package.json',
      'package-lock.json',
      'tsconfig.build.json',
      'tools/rewrite-aliases.js',
      'libs/runtimes/runtimes',
      'apps/gateway/src/main.ts',
    ]) {
      expect([p, excludedByDockerignore(DOCKERIGNORE, p)]).toEqual([p, false]);
    }
  });

  it('has the runtime folders (shims, SDKs) in the repository for the image to carry', () => {
    expect(existsSync(path.join(REPO_ROOT, 'libs', 'runtimes', 'runtimes', 'PROTOCOL.md'))).toBe(true);
  });

  it.each(PLATFORM_APPS.map((a) => [a.name]))('compiles %s to the main.js the entrypoint starts', (name) => {
    const build = JSON.parse(readFileSync(path.join(REPO_ROOT, 'tsconfig.build.json'), 'utf8'));
    expect(build.compilerOptions).toMatchObject({ outDir: 'dist', rootDir: '.' });
    expect(build.include).toContain('apps/**/*.ts');
    expect(existsSync(path.join(REPO_ROOT, 'apps', name, 'src', 'main.ts'))).toBe(true);
  });
});

describe('the image entrypoint (deploy/docker/entrypoint.sh)', () => {
  let root: string;
  const apps = [...PLATFORM_APPS.map((a) => a.name), 'cli'];

  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'hks-entrypoint-'));
    for (const app of apps) {
      const dir = path.join(root, 'dist', 'apps', app, 'src');
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'main.js'), 'console.log(JSON.stringify({ main: __filename, args: process.argv.slice(2) }));\n');
    }
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const run = (args: string[], appRoot = root) => spawnSync('sh', [ENTRYPOINT, ...args], { env: { ...process.env, HKS_APP_ROOT: appRoot }, encoding: 'utf8' });

  it.each(PLATFORM_APPS.map((a) => [a.name]))('starts %s from dist/ and passes the remaining arguments on', (name) => {
    const result = run([name, '--inspect-brk=0', 'x']);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ main: path.join(root, 'dist', 'apps', name, 'src', 'main.js'), args: ['--inspect-brk=0', 'x'] });
  });

  it('runs the hks CLI for "hks"', () => {
    const result = run(['hks', 'functions', 'list']);
    expect(JSON.parse(result.stdout)).toEqual({ main: path.join(root, 'dist', 'apps', 'cli', 'src', 'main.js'), args: ['functions', 'list'] });
  });

  it('refuses an unknown app with exit code 64 and lists the apps it knows', () => {
    const result = run(['gatewya']);
    expect(result.status).toBe(64);
    expect(result.stderr).toContain("unknown app 'gatewya'");
    for (const app of PLATFORM_APPS) expect(result.stderr).toContain(app.name);
  });

  it('prints the usage and succeeds for "help" (the default command)', () => {
    const result = run(['help']);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('usage: hks-platform <app>');
  });

  it('says the image was not built when the app is missing from dist/', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'hks-entrypoint-empty-'));
    try {
      const result = run(['gateway'], empty);
      expect(result.status).toBe(66);
      expect(result.stderr).toContain('npm run build');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
