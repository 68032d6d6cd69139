/**
 * scripts/build-image: the platform image built without Docker and pushed to a real registry (the Debian
 * docker-registry on a free loopback port), then pulled back: manifest, config (entrypoint, user, env, ports) and
 * layers, and the layers unpacked into a directory where the entrypoint and a service's modules are run.
 * Needs `npm run build` first (the image is made of dist/).
 */
import { execFile } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { gunzipSync } from 'zlib';
import { readTar, TarEntry } from '@platform/runtimes';
import { pushTestBaseImage, startOciRegistry, TestOciRegistry } from '@platform/testing';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(ROOT, 'scripts', 'build-image');

interface Manifest {
  mediaType: string;
  config: { digest: string };
  layers: Array<{ mediaType: string; digest: string; size: number }>;
}

describe('scripts/build-image', () => {
  let registry: TestOciRegistry;
  let base: { digest: string; layerDigest: string };
  let output: string;
  let manifest: Manifest;
  let config: {
    config: { Entrypoint: string[]; Cmd: string[]; User: string; WorkingDir: string; Env: string[]; ExposedPorts: Record<string, object> };
    rootfs: { diff_ids: string[] };
  };
  let layers: TarEntry[][];
  let unpacked: string;
  /** Owner (uid:gid) of each entry of the platform's layers, by path. */
  const owners = new Map<string, string>();

  const blob = async (digest: string): Promise<Buffer> => {
    const res = await fetch(`${registry.url}/v2/hks/platform/blobs/${digest}`);
    expect(res.status).toBe(200);
    return Buffer.from(await res.arrayBuffer());
  };

  beforeAll(async () => {
    if (!existsSync(path.join(ROOT, 'dist', 'apps', 'gateway', 'src', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
    registry = await startOciRegistry();
    base = await pushTestBaseImage(registry, 'base/node', '20-bookworm-slim', { 'etc/os-release': 'ID=debian\n' }, [
      'PATH=/usr/local/bin:/usr/bin:/bin',
      'NODE_VERSION=20.0.0',
    ]);
    const env = { ...process.env, HKS_OCI_USERNAME: '', HKS_OCI_PASSWORD: '', HKS_OCI_INSECURE: 'true' };
    const result = await run(SCRIPT, ['--registry', registry.host, '--image', 'hks/platform:test'], { env, maxBuffer: 16 * 1024 * 1024 });
    output = result.stdout;
    const res = await fetch(`${registry.url}/v2/hks/platform/manifests/test`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(res.status).toBe(200);
    manifest = (await res.json()) as Manifest;
    config = JSON.parse((await blob(manifest.config.digest)).toString('utf8'));
    layers = [];
    for (const layer of manifest.layers) layers.push(await readTar(gunzipSync(await blob(layer.digest))));
    unpacked = mkdtempSync(path.join(tmpdir(), 'hks-platform-image-'));
    // The platform's own layers (not the base's), as a runtime would apply them, into a directory.
    const tar = await import('tar-stream');
    const { promises: fs } = await import('fs');
    for (const layer of manifest.layers.slice(1)) {
      const extract = tar.extract();
      const done = new Promise<void>((resolve, reject) => {
        extract.on('entry', (header, stream, next) => {
          const target = path.join(unpacked, header.name);
          owners.set(header.name.replace(/\/$/, ''), `${header.uid}:${header.gid}`);
          const chunks: Buffer[] = [];
          stream.on('data', (c: unknown) => chunks.push(c as Buffer));
          stream.on('end', () => {
            const write = async () => {
              if (header.type === 'directory') await fs.mkdir(target, { recursive: true });
              else if (header.type === 'symlink') await fs.symlink(header.linkname ?? '', target);
              else if (header.type === 'file') {
                await fs.mkdir(path.dirname(target), { recursive: true });
                await fs.writeFile(target, Buffer.concat(chunks), { mode: header.mode });
              }
            };
            write().then(() => next(), reject);
          });
        });
        extract.on('finish', resolve);
        extract.on('error', reject);
      });
      extract.end(gunzipSync(await blob(layer.digest)));
      await done;
    }
  }, 180_000);

  afterAll(async () => {
    await registry?.stop();
    if (unpacked) rmSync(unpacked, { recursive: true, force: true });
  });

  it('prints the pushed image by digest, the digest of the manifest the registry serves', async () => {
    const last = output.trim().split('\n').pop();
    const res = await fetch(`${registry.url}/v2/hks/platform/manifests/test`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(last).toBe(`${registry.host}/hks/platform@${res.headers.get('docker-content-digest')}`);
    expect(manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
  });

  it('runs deploy/docker/entrypoint.sh as the non-root user 10001 in /app, with NODE_ENV=production', () => {
    expect(config.config.Entrypoint).toEqual(['/usr/local/bin/hks-platform']);
    expect(config.config.Cmd).toEqual(['help']);
    expect(config.config.User).toBe('10001:10001');
    expect(config.config.WorkingDir).toBe('/app');
    expect(config.config.Env).toEqual(
      expect.arrayContaining([
        'NODE_ENV=production',
        'HOST=0.0.0.0',
        'HKS_DATA_DIR=/var/lib/hks',
        'HKS_APP_ROOT=/app',
        'PATH=/usr/local/bin:/usr/bin:/bin',
        'NODE_VERSION=20.0.0',
      ]),
    );
    expect(Object.keys(config.config.ExposedPorts).sort()).toEqual(['8080/tcp', '8081/tcp', '8082/tcp', '8083/tcp', '8084/tcp', '8085/tcp']);
  });

  it('stacks its layers on the base image: the base layer first, one diff_id per layer', () => {
    expect(manifest.layers[0].digest).toBe(base.layerDigest);
    expect(manifest.layers).toHaveLength(5);
    expect(config.rootfs.diff_ids).toHaveLength(manifest.layers.length);
    for (const layer of manifest.layers) expect(layer.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
  });

  it('has dist/, the production dependencies (not the dev ones), the runtime shims and the entrypoint in its layers', () => {
    const paths = new Set(layers.flat().map((e) => e.path));
    for (const p of [
      'app/dist/apps/gateway/src/main.js',
      'app/dist/apps/builder/src/main.js',
      'app/node_modules/@nestjs/core/package.json',
      'app/node_modules/amqplib/package.json',
      'app/package.json',
      'app/libs/runtimes/runtimes/node/shim/lib/http-server.js',
      'usr/local/bin/hks-platform',
    ]) {
      expect([p, paths.has(p)]).toEqual([p, true]);
    }
    for (const dev of ['app/node_modules/jest/package.json', 'app/node_modules/eslint/package.json', 'app/node_modules/@swc/jest/package.json']) {
      expect([dev, paths.has(dev)]).toEqual([dev, false]);
    }
    const entrypoint = layers.flat().find((e) => e.path === 'usr/local/bin/hks-platform');
    expect(entrypoint?.data?.toString('utf8')).toBe(readFileSync(path.join(ROOT, 'deploy', 'docker', 'entrypoint.sh'), 'utf8'));
    expect(statSync(path.join(unpacked, 'usr/local/bin/hks-platform')).mode & 0o111).toBeTruthy();
  });

  it('leaves the code to root and gives the data directory to the image user', () => {
    expect(owners.get('var/lib/hks')).toBe('10001:10001');
    for (const p of ['app/dist/apps/gateway/src/main.js', 'app/node_modules/@nestjs/core/package.json', 'usr/local/bin/hks-platform']) {
      expect([p, owners.get(p)]).toEqual([p, '0:0']);
    }
  });

  it('runs from its own layers alone: the entrypoint lists the apps, and every service loads its modules from the packaged node_modules', async () => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HKS_APP_ROOT: path.join(unpacked, 'app'), NODE_ENV: 'production' };
    const help = await run(path.join(unpacked, 'usr/local/bin/hks-platform'), ['help'], { env });
    expect(help.stderr).toContain('gateway invoker function-registry builder deployer event-store');
    // Requiring each app's root module resolves its whole dependency tree (nothing is started).
    for (const app of ['gateway', 'invoker', 'function-registry', 'builder', 'deployer', 'event-store']) {
      const file = path.join(unpacked, 'app', 'dist', 'apps', app, 'src', 'app.module.js');
      const r = await run(process.execPath, ['-e', `require(${JSON.stringify(file)}); console.log('loaded')`], { env, cwd: path.join(unpacked, 'app') });
      expect([app, r.stdout.trim()]).toEqual([app, 'loaded']);
    }
    const cli = await run(process.execPath, [path.join(unpacked, 'app', 'dist', 'apps', 'cli', 'src', 'main.js'), '--help'], { env });
    expect(cli.stdout).toMatch(/hks/);
  }, 120_000);

  it('refuses to run without a registry, naming the option', async () => {
    const env = { ...process.env, HKS_OCI_REGISTRY: '' };
    await expect(run(SCRIPT, [], { env })).rejects.toMatchObject({ code: 64, stderr: expect.stringContaining('--registry is required') });
  });
});
