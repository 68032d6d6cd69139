import { createHash } from 'crypto';
import { readdirSync, rmSync, statSync } from 'fs';
import * as path from 'path';
import { gunzipSync } from 'zlib';
import { BuildView } from '@platform/contracts';
import { effectiveConfigOf, readTar, RegistryClient } from '@platform/runtimes';
import { pushTestBaseImage, startOciRegistry, TestOciRegistry } from '@platform/testing';
import { BuilderHarness, startBuilder } from '../testing/builder-harness';

jest.setTimeout(180_000);

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** Every file under the registry's storage with its size and mtime: unchanged means nothing was uploaded. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else {
        const st = statSync(full);
        out.push(`${path.relative(dir, full)} ${st.size} ${st.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return out.sort();
}

describe('builder: OCI images pushed to a real registry', () => {
  let registry: TestOciRegistry;
  let b: BuilderHarness;
  let first: BuildView;
  let userImage: { reference: string; digest: string };
  const job = {
    label: 'oci-fn',
    files: { 'handler.js': 'module.exports.handle = (d) => ({ hello: d.name });\n' },
    config: { ...effectiveConfigOf({}, 'node'), env: { GREETING: 'hi' } },
  };

  async function get(url: string, accept?: string): Promise<{ status: number; body: Buffer; type: string | null }> {
    const res = await fetch(`${registry.url}${url}`, { headers: accept ? { accept } : {} });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type') };
  }

  beforeAll(async () => {
    registry = await startOciRegistry();
    const base = await pushTestBaseImage(registry, 'base/node', '20', {
      'usr/bin/node': '#!/bin/sh\necho "a stand-in for node"\n',
      'etc/os-release': 'ID=hks-test\n',
    });
    b = await startBuilder({ HKS_OCI_REGISTRY: registry.host, HKS_BASE_IMAGE_NODE: base.reference, HKS_BASE_IMAGE_CUSTOM: base.reference });
    userImage = base;
    first = await b.build(job);
  });

  afterAll(async () => {
    try {
      await b?.close();
    } finally {
      await registry?.stop();
    }
  });

  it('pushes an image of the base layers, the shim and SDK of the runtime under /opt/hks/runtime and the bundle at /function', async () => {
    expect(first).toMatchObject({ status: 'SUCCEEDED', cached: false });
    const repo = `${b.env.HKS_NAMESPACE}/oci-fn`;
    expect(first.image).toBe(`${registry.host}/${repo}@${first.imageDigest}`);
    expect(first.log).toMatch(/base layer sha256:[0-9a-f]{64}: mounted/);

    const manifest = await get(`/v2/${repo}/manifests/${first.imageDigest}`, OCI_MANIFEST);
    expect(manifest.status).toBe(200);
    expect(sha(manifest.body)).toBe(first.imageDigest);
    const byTag = await get(`/v2/${repo}/manifests/v1`, OCI_MANIFEST);
    expect(sha(byTag.body)).toBe(first.imageDigest);
    const m = JSON.parse(manifest.body.toString());
    expect(m).toMatchObject({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json' } });
    expect(m.layers).toHaveLength(3);

    const configBlob = await get(`/v2/${repo}/blobs/${m.config.digest}`);
    expect(sha(configBlob.body)).toBe(m.config.digest);
    const config = JSON.parse(configBlob.body.toString());
    expect(config.config.Entrypoint).toEqual(['/usr/bin/node', '/opt/hks/runtime/shim/index.js', '--http']);
    expect(config.config.Env).toEqual(expect.arrayContaining(['HKS_ENTRYPOINT=handler.*', 'PORT=8080', 'GREETING=hi', 'PATH=/usr/local/bin:/usr/bin:/bin']));
    expect(config.config.WorkingDir).toBe('/function');
    expect(config.config.ExposedPorts).toEqual({ '8080/tcp': {} });
    expect(config.history).toHaveLength(3);

    const layers = [];
    for (const [i, layer] of m.layers.entries()) {
      const blob = await get(`/v2/${repo}/blobs/${layer.digest}`);
      expect(sha(blob.body)).toBe(layer.digest);
      const tarBytes = gunzipSync(blob.body);
      expect(sha(tarBytes)).toBe(config.rootfs.diff_ids[i]);
      layers.push(new Map((await readTar(tarBytes)).map((e) => [e.path, e])));
    }
    expect(layers[0].get('usr/bin/node')?.data?.toString()).toContain('stand-in');
    expect(layers[1].get('opt/hks/runtime/shim/index.js')?.data?.toString()).toContain('--http');
    expect(layers[1].has('opt/hks/runtime/shim/lib/http-server.js')).toBe(true);
    // The SDK rides along (the bundle has its copy in node_modules too).
    expect(layers[1].has('opt/hks/runtime/sdk/hexabase/index.js')).toBe(true);
    expect(layers[2].get('function/handler.js')?.data?.toString()).toBe(job.files['handler.js']);
    expect(JSON.parse(layers[2].get('function/.hks/manifest.json')?.data?.toString() as string)).toMatchObject({ entrypoint: 'handler.*' });
    expect(b.eventsOf(first.id).find((e) => e.name === 'build.succeeded')?.payload).toMatchObject({ image: first.image, cached: false });
  });

  it('answers an identical second build with the same image and uploads nothing', async () => {
    const before = snapshot(registry.storageDir);
    const again = await b.build({ ...job, version: 2 });
    expect(again).toMatchObject({ status: 'SUCCEEDED', cached: true, image: first.image, imageDigest: first.imageDigest, bundleDigest: first.bundleDigest });
    expect(snapshot(registry.storageDir)).toEqual(before);
  });

  it('rebuilds to the same manifest digest when the cached bundle is gone, skipping blobs the registry has', async () => {
    rmSync(path.join(b.dataDir, 'artifacts', 'sha256', `${(first.bundleDigest as string).slice(7)}.tar`));
    const rebuilt = await b.build({ ...job, version: 3 });
    expect(rebuilt).toMatchObject({ status: 'SUCCEEDED', cached: false, imageDigest: first.imageDigest, bundleDigest: first.bundleDigest });
    expect(rebuilt.log).toMatch(/layer sha256:[0-9a-f]{64} \(function bundle at \/function, \d+ bytes\): exists/);
  });

  it('uploads large blobs in chunks and skips blobs the repository already has', async () => {
    const client = new RegistryClient(registry.host, { chunkSize: 1000 });
    const blob = Buffer.from(Array.from({ length: 4500 }, (_, i) => i % 251));
    expect(await client.pushBlob('chunked/test', sha(blob), blob)).toBe('uploaded');
    expect((await get(`/v2/chunked/test/blobs/${sha(blob)}`)).body.equals(blob)).toBe(true);
    expect(await client.pushBlob('chunked/test', sha(blob), blob)).toBe('exists');
  });

  it('fails clearly when the registry is set but the runtime has no base image', async () => {
    const view = await b.build({
      template: 'python',
      family: 'python',
      runtime: 'python3',
      files: { 'handler.py': 'def handle(d):\n    return d\n' },
    });
    expect(view.status).toBe('FAILED');
    expect(view.error).toContain('no base image is configured for python functions: set HKS_BASE_IMAGE_PYTHON');
  });

  it("makes a custom function's image run its program itself (the entrypoint is /function/<program>, no shim)", async () => {
    const view = await b.build({
      label: 'custom-fn',
      template: 'custom',
      family: 'custom',
      runtime: 'provided',
      entrypoint: 'bootstrap --fast',
      files: { bootstrap: '#!/bin/sh\necho hi\n' },
    });
    expect(view).toMatchObject({ status: 'SUCCEEDED' });
    const manifest = JSON.parse((await get(`/v2/${b.env.HKS_NAMESPACE}/custom-fn/manifests/${view.imageDigest}`, OCI_MANIFEST)).body.toString());
    const config = JSON.parse((await get(`/v2/${b.env.HKS_NAMESPACE}/custom-fn/blobs/${manifest.config.digest}`)).body.toString());
    expect(config.config.Entrypoint).toEqual(['/function/bootstrap', '--fast']);
  });

  it("pins a user's own image instead of building one: the build's image is the user's, by digest", async () => {
    const view = await b.build({ label: 'own-image', template: 'image', family: 'image', runtime: 'image', entrypoint: userImage.reference, files: {} });
    expect(view).toMatchObject({ status: 'SUCCEEDED', image: `${registry.host}/base/node@${userImage.digest}`, imageDigest: userImage.digest });
    expect(view.log).toContain(`pinned to ${registry.host}/base/node@${userImage.digest}`);
    // Nothing was pushed for it.
    expect((await get(`/v2/${b.env.HKS_NAMESPACE}/own-image/tags/list`)).status).toBe(404);
  });
});
