import { ChildProcess, spawn } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { freePort } from './ports';
import { tmpdir } from 'os';
import * as path from 'path';
import { gzipSync } from 'zlib';
import { deterministicTar, sha256Digest } from '@platform/runtimes';

export interface TestOciRegistry {
  /** host:port, as image references and HKS_OCI_REGISTRY name it. */
  host: string;
  url: string;
  /** Where the registry keeps blobs and manifests (to check that nothing new was uploaded). */
  storageDir: string;
  stop(): Promise<void>;
}

/**
 * Starts a real registry (`/usr/bin/docker-registry serve`, the CNCF distribution) on a free loopback
 * port with its own storage directory and no auth. Call stop() in afterAll.
 */
export async function startOciRegistry(binary = process.env.HKS_TEST_REGISTRY_BIN ?? '/usr/bin/docker-registry'): Promise<TestOciRegistry> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hks-registry-'));
  const storageDir = path.join(dir, 'storage');
  const port = await freePort();
  const config = path.join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${storageDir}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  let output = '';
  const proc: ChildProcess = spawn(binary, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout?.on('data', (c) => (output = (output + c).slice(-4000)));
  proc.stderr?.on('data', (c) => (output = (output + c).slice(-4000)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) {
      await stop();
      throw new Error(`docker-registry exited with code ${proc.exitCode}: ${output}`);
    }
    try {
      const res = await fetch(`${url}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not answer on ${url} in time: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, url, storageDir, stop };
}

/** A layer with its files (mode 0755) and their parent directories. */
function tarOf(files: Record<string, string>): Promise<Buffer> {
  const dirs = new Set<string>();
  for (const p of Object.keys(files)) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return deterministicTar([
    ...[...dirs].map((d) => ({ path: d, type: 'directory' as const })),
    ...Object.entries(files).map(([p, data]) => ({ path: p, type: 'file' as const, mode: 0o755, data: Buffer.from(data) })),
  ]);
}

async function pushBlob(registryUrl: string, repository: string, blob: Buffer): Promise<string> {
  const digest = sha256Digest(blob);
  const start = await fetch(`${registryUrl}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  await start.arrayBuffer();
  if (start.status !== 202) throw new Error(`starting an upload to ${repository} answered ${start.status}`);
  const location = new URL(start.headers.get('location') as string, registryUrl);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: blob });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`uploading ${digest} to ${repository} answered ${put.status}`);
  return digest;
}

/**
 * Pushes a small base image of one layer holding `files` (path -> text) to `<registry>/<repository>:<tag>`.
 * Returns the image reference and the manifest digest.
 */
export async function pushTestBaseImage(
  registry: TestOciRegistry,
  repository: string,
  tag: string,
  files: Record<string, string>,
  env: string[] = ['PATH=/usr/local/bin:/usr/bin:/bin'],
): Promise<{ reference: string; digest: string; layerDigest: string }> {
  const layerTar = await tarOf(files);
  const layer = gzipSync(layerTar);
  const layerDigest = await pushBlob(registry.url, repository, layer);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-01-01T00:00:00Z',
      config: { Env: env, Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: [sha256Digest(layerTar)] },
      history: [{ created: '2024-01-01T00:00:00Z', created_by: 'hks test base image' }],
    }),
  );
  const configDigest = await pushBlob(registry.url, repository, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
    }),
  );
  const res = await fetch(`${registry.url}/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`pushing the manifest of ${repository}:${tag} answered ${res.status}`);
  return { reference: `${registry.host}/${repository}:${tag}`, digest: sha256Digest(manifest), layerDigest };
}

/** The run config of a test image (OCI image spec `config`). */
export interface TestImageConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
}

/**
 * Pushes an image of the given layers (uncompressed tars, gzipped here; applied in order) and run config to
 * `<registry>/<repository>:<tag>`. With `index`, the tag names an OCI index whose linux/amd64 entry is the
 * image (after a linux/arm64 entry), as multi-platform images are published.
 */
export async function pushTestImage(
  registry: TestOciRegistry,
  repository: string,
  tag: string,
  layerTars: Buffer[],
  config: TestImageConfig,
  o: { index?: boolean; architecture?: string } = {},
): Promise<{ reference: string; digest: string; indexDigest?: string }> {
  const layers: Array<{ mediaType: string; digest: string; size: number }> = [];
  for (const t of layerTars) {
    const blob = gzipSync(t);
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: await pushBlob(registry.url, repository, blob), size: blob.length });
  }
  const image = async (architecture: string) => {
    const configBlob = Buffer.from(
      JSON.stringify({ architecture, os: 'linux', config, rootfs: { type: 'layers', diff_ids: layerTars.map((t) => sha256Digest(t)) } }),
    );
    const configDigest = await pushBlob(registry.url, repository, configBlob);
    return Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: configBlob.length },
        layers,
      }),
    );
  };
  const manifest = await image(o.architecture ?? 'amd64');
  const digest = sha256Digest(manifest);
  await putManifest(registry, repository, o.index ? digest : tag, manifest, 'application/vnd.oci.image.manifest.v1+json');
  if (!o.index) return { reference: `${registry.host}/${repository}:${tag}`, digest };
  const other = await image('arm64');
  await putManifest(registry, repository, sha256Digest(other), other, 'application/vnd.oci.image.manifest.v1+json');
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: sha256Digest(other),
          size: other.length,
          platform: { os: 'linux', architecture: 'arm64' },
        },
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: manifest.length, platform: { os: 'linux', architecture: 'amd64' } },
      ],
    }),
  );
  await putManifest(registry, repository, tag, index, 'application/vnd.oci.image.index.v1+json');
  return { reference: `${registry.host}/${repository}:${tag}`, digest, indexDigest: sha256Digest(index) };
}

async function putManifest(registry: TestOciRegistry, repository: string, reference: string, body: Buffer, mediaType: string): Promise<void> {
  const res = await fetch(`${registry.url}/v2/${repository}/manifests/${reference}`, { method: 'PUT', headers: { 'content-type': mediaType }, body });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`pushing the manifest of ${repository}:${reference} answered ${res.status}: ${text}`);
}
