import { isLoopbackRegistry, MediaTypes, parseImageReference, sha256Digest } from '@platform/runtimes';
import { gunzipSync } from 'zlib';
import { buildImageConfig, buildImageManifest, FunctionImageSpec, layerFromEntries, mergeEnv } from './image';

describe('OCI image assembly', () => {
  async function spec(): Promise<FunctionImageSpec> {
    const shim = await layerFromEntries([
      { path: 'opt', type: 'directory' },
      { path: 'opt/shim.js', type: 'file', data: Buffer.from('shim') },
    ]);
    const app = await layerFromEntries([
      { path: 'function', type: 'directory' },
      { path: 'function/handler.js', type: 'file', data: Buffer.from('h') },
    ]);
    return {
      base: {
        architecture: 'amd64',
        os: 'linux',
        created: '2024-05-01T10:00:00Z',
        config: { Env: ['PATH=/usr/bin', 'PORT=3000'], Cmd: ['node'], ExposedPorts: { '3000/tcp': {} } },
        rootfs: { type: 'layers', diff_ids: ['sha256:' + 'a'.repeat(64)] },
        history: [{ created: '2024-05-01T10:00:00Z', created_by: 'base' }],
      },
      entrypoint: ['/usr/bin/node', '/opt/hks/runtime/http-server.js'],
      env: { GREETING: 'hi', HKS_ENTRYPOINT: 'handler.handle', PORT: '8080' },
      workingDir: '/function',
      port: 8080,
      labels: { 'dev.hks.entrypoint': 'handler.handle' },
      added: [
        { layer: shim, createdBy: 'shim' },
        { layer: app, createdBy: 'app' },
      ],
    };
  }

  it('builds layers whose digest is of the gzip blob and whose diff id is of the tar', async () => {
    const layer = await layerFromEntries([{ path: 'x.txt', type: 'file', data: Buffer.from('x') }]);
    expect(layer.digest).toBe(sha256Digest(layer.blob));
    expect(layer.diffId).toBe(sha256Digest(gunzipSync(layer.blob)));
    expect(layer.mediaType).toBe(MediaTypes.OciLayerGzip);
  });

  it('writes the function entry point, env, port, working dir, diff ids and history into the config', async () => {
    const s = await spec();
    const config = JSON.parse(buildImageConfig(s).toString('utf8'));
    expect(config.created).toBe('1970-01-01T00:00:00Z');
    expect(config.config).toMatchObject({
      Entrypoint: ['/usr/bin/node', '/opt/hks/runtime/http-server.js'],
      Cmd: null,
      WorkingDir: '/function',
      Env: ['PATH=/usr/bin', 'PORT=8080', 'GREETING=hi', 'HKS_ENTRYPOINT=handler.handle'],
      ExposedPorts: { '3000/tcp': {}, '8080/tcp': {} },
      Labels: { 'dev.hks.entrypoint': 'handler.handle' },
    });
    expect(config.rootfs.diff_ids).toEqual(['sha256:' + 'a'.repeat(64), s.added[0].layer.diffId, s.added[1].layer.diffId]);
    expect(config.history.map((h: { created_by: string }) => h.created_by)).toEqual(['base', 'shim', 'app']);
  });

  it('gives the same manifest bytes, hence digest, for the same inputs', async () => {
    const build = async () => {
      const s = await spec();
      const config = buildImageConfig(s);
      const base = { mediaType: MediaTypes.DockerLayerGzip, digest: 'sha256:' + 'b'.repeat(64), size: 10 };
      return buildImageManifest(config, [base, ...s.added.map((a) => a.layer)]);
    };
    const [one, two] = [await build(), await build()];
    expect(one.equals(two)).toBe(true);
    const manifest = JSON.parse(one.toString('utf8'));
    expect(manifest).toMatchObject({ schemaVersion: 2, mediaType: MediaTypes.OciManifest, config: { mediaType: MediaTypes.OciConfig } });
    // Docker's gzip layers are named the OCI way in an OCI manifest.
    expect(manifest.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual(Array(3).fill(MediaTypes.OciLayerGzip));
  });

  it('overrides env keys in place and appends new ones sorted', () => {
    expect(mergeEnv(['A=1', 'B=2'], { C: '3', A: 'x', AA: 'y' })).toEqual(['A=x', 'B=2', 'AA=y', 'C=3']);
  });
});

describe('image references', () => {
  it('splits registry, repository, tag and digest', () => {
    expect(parseImageReference('127.0.0.1:5000/base/node:20')).toEqual({ registry: '127.0.0.1:5000', repository: 'base/node', tag: '20', digest: undefined });
    const d = 'sha256:' + 'c'.repeat(64);
    expect(parseImageReference(`registry.example.com/a/b@${d}`)).toMatchObject({ repository: 'a/b', digest: d });
    expect(parseImageReference('localhost:5000/app')).toMatchObject({ tag: 'latest' });
  });

  it('explains what is wrong with a bad reference', () => {
    expect(() => parseImageReference('node:20')).toThrow('names no registry');
    expect(() => parseImageReference('127.0.0.1:5000/Base/Node:20')).toThrow('invalid repository');
  });

  it('treats loopback registries as plain HTTP ones', () => {
    expect(isLoopbackRegistry('127.0.0.1:5000')).toBe(true);
    expect(isLoopbackRegistry('localhost:5000')).toBe(true);
    expect(isLoopbackRegistry('registry.example.com')).toBe(false);
  });
});
