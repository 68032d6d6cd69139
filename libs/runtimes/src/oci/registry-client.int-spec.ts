import { createHash } from 'crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import { tmpdir } from 'os';
import * as path from 'path';
import * as tar from 'tar-stream';
import { AuthRegistry, pushTestImage, startAuthRegistry, startOciRegistry, TestOciRegistry } from '@platform/testing';
import { resolveImage } from './image-resolve';
import { parseImageReference } from './reference';
import { parseAuthChallenge, RegistryClient } from './registry-client';
import { registryOptionsFor } from './registry-settings';

jest.setTimeout(60_000);

function layerTar(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => void chunks.push(c as Buffer));
  const done = new Promise<Buffer>((resolve) => pack.on('end', () => resolve(Buffer.concat(chunks))));
  for (const [name, data] of Object.entries(files)) pack.entry({ name, size: Buffer.byteLength(data), mode: 0o644 }, data);
  pack.finalize();
  return done;
}

/** A server answering each request with what `route` says, to play a registry that misbehaves. */
async function rawServer(
  route: (req: http.IncomingMessage, res: http.ServerResponse, port: number) => void,
): Promise<{ host: string; close(): Promise<void> }> {
  let port = 0;
  const server = http.createServer((req, res) => route(req, res, port));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return { host: `127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => (server.close(() => resolve()), server.closeAllConnections())) };
}

describe('registry client: logins, redirects and limits of a pull', () => {
  let registry: TestOciRegistry;
  let work: string;
  let reference: string;
  const fronts: AuthRegistry[] = [];

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'hks-registry-client-'));
    registry = await startOciRegistry();
    reference = (await pushTestImage(registry, 'team/app', 'v1', [await layerTar({ 'hello.txt': 'hello\n' })], { Cmd: ['/hello'] })).reference;
  });

  afterAll(async () => {
    for (const f of fronts) await f.stop();
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const front = async (o: Parameters<typeof startAuthRegistry>[1]) => {
    const f = await startAuthRegistry(registry.host, o);
    fronts.push(f);
    return f;
  };
  const refOn = (host: string) => parseImageReference(reference.replace(registry.host, host));

  it('reads a Bearer challenge, gets a token from its realm with the credentials, and pulls with it', async () => {
    const f = await front({ scheme: 'bearer', username: 'ci', password: 's3cret' });
    const client = new RegistryClient(f.host, { insecure: true, username: 'ci', password: 's3cret' });
    const image = await resolveImage(client, refOn(f.host));
    const file = path.join(work, 'bearer', 'layer');
    await client.downloadBlob('team/app', image.layers[0].digest, file);
    expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(image.layers[0].digest.slice('sha256:'.length));
    const tokens = f.requests.filter((r) => r.path.startsWith('/token'));
    expect(tokens.length).toBeGreaterThanOrEqual(1);
    expect(tokens[0].authorization).toBe(`Basic ${Buffer.from('ci:s3cret').toString('base64')}`);
    expect(tokens[0].path).toContain('scope=repository%3Ateam%2Fapp%3Apull');
    // The token is kept: later requests of the repository carry it at once.
    const blobs = f.requests.filter((r) => r.path.includes('/blobs/'));
    expect(blobs.every((r) => r.authorization?.startsWith('Bearer '))).toBe(true);
  });

  it('sends the credentials to a token service on another host than the registry', async () => {
    const f = await front({ scheme: 'bearer', username: 'ci', password: 's3cret', tokenOnOtherHost: true });
    const client = new RegistryClient(f.host, { insecure: true, username: 'ci', password: 's3cret' });
    const image = await resolveImage(client, refOn(f.host));
    expect(image.layers.length).toBeGreaterThanOrEqual(1);
    const tokens = f.requests.filter((r) => r.path.startsWith('/token'));
    expect(tokens[0].authorization).toBe(`Basic ${Buffer.from('ci:s3cret').toString('base64')}`);
  });

  it('answers a Basic challenge with the credentials, and names the settings when it has none or wrong ones', async () => {
    const f = await front({ scheme: 'basic', username: 'ci', password: 's3cret' });
    const image = await resolveImage(new RegistryClient(f.host, { insecure: true, username: 'ci', password: 's3cret' }), refOn(f.host));
    expect(image.layers).toHaveLength(1);
    await expect(resolveImage(new RegistryClient(f.host, { insecure: true }), refOn(f.host))).rejects.toThrow(
      /failed with HTTP 401.*check HKS_OCI_USERNAME \/ HKS_OCI_PASSWORD/,
    );
    const bearer = await front({ scheme: 'bearer', username: 'ci', password: 's3cret' });
    await expect(resolveImage(new RegistryClient(bearer.host, { insecure: true, username: 'ci', password: 'wrong' }), refOn(bearer.host))).rejects.toThrow(
      /get a token from .* failed with HTTP 401/,
    );
  });

  it('follows a blob redirect to another host without the Authorization header', async () => {
    const f = await front({ scheme: 'bearer', username: 'ci', password: 's3cret', redirectBlobs: true });
    const client = new RegistryClient(f.host, { insecure: true, username: 'ci', password: 's3cret' });
    const image = await resolveImage(client, refOn(f.host));
    await client.downloadBlob('team/app', image.layers[0].digest, path.join(work, 'redirected'));
    const cdn = f.requests.filter((r) => r.path.startsWith('/cdn/'));
    expect(cdn.length).toBeGreaterThanOrEqual(2); // the config and the layer
    expect(cdn.map((r) => r.authorization)).toEqual(cdn.map(() => undefined));
  });

  it('stops following redirects after a few, and refuses blobs over HKS_OCI_MAX_BLOB_BYTES or off their digest, leaving no file', async () => {
    const body = Buffer.alloc(64 * 1024, 7);
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    const server = await rawServer((req, res) => {
      if (req.url?.startsWith('/v2/loop/')) {
        res.writeHead(302, { location: req.url });
        return res.end();
      }
      // Chunked: no Content-Length tells the size beforehand.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(req.url?.startsWith('/v2/wrong/') ? Buffer.alloc(10, 1) : body);
    });
    try {
      const dir = path.join(work, 'limits');
      await expect(new RegistryClient(server.host).downloadBlob('loop', digest, path.join(dir, 'a'))).rejects.toThrow(/more than 5 redirects/);
      await expect(new RegistryClient(server.host, { maxBlobBytes: 1024 }).downloadBlob('big', digest, path.join(dir, 'b'))).rejects.toThrow(
        /larger than HKS_OCI_MAX_BLOB_BYTES \(1024 bytes\)/,
      );
      await expect(new RegistryClient(server.host).downloadBlob('wrong', digest, path.join(dir, 'c'))).rejects.toThrow(/does not match its digest/);
      await expect(new RegistryClient(server.host, { maxBlobBytes: 1024 }).getBlob('big', digest)).rejects.toThrow(/HKS_OCI_MAX_BLOB_BYTES/);
      expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
      await new RegistryClient(server.host).downloadBlob('ok', digest, path.join(dir, 'd'));
      expect(readFileSync(path.join(dir, 'd')).equals(body)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('refuses a redirect from HTTPS to plain HTTP', async () => {
    // No TLS server here: the registry's answers are played by a fetch stand-in, the client's redirect rule is real.
    const real = globalThis.fetch;
    const asked: string[] = [];
    globalThis.fetch = ((url: URL | string) => {
      asked.push(String(url));
      return Promise.resolve(new Response(null, { status: 307, headers: { location: 'http://cdn.example.com/blob' } }));
    }) as typeof fetch;
    try {
      await expect(new RegistryClient('registry.example.com').getBlob('team/app', `sha256:${'0'.repeat(64)}`)).rejects.toThrow(
        'a redirect from HTTPS to http (http://cdn.example.com) is refused',
      );
      expect(asked).toEqual([`https://registry.example.com/v2/team/app/blobs/sha256:${'0'.repeat(64)}`]);
    } finally {
      globalThis.fetch = real;
    }
  });

  it('parses the challenges registries send', () => {
    expect(parseAuthChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/node:pull"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/node:pull' },
    });
    expect(parseAuthChallenge('Basic realm="Registry Realm"')).toEqual({ scheme: 'basic', params: { realm: 'Registry Realm' } });
  });

  it('gives the platform registry its transport and credentials, and no other registry', () => {
    const optionsFor = registryOptionsFor({
      HKS_OCI_REGISTRY: 'registry:5000',
      HKS_OCI_INSECURE: true,
      HKS_OCI_USERNAME: 'u',
      HKS_OCI_PASSWORD: 'p',
      HKS_OCI_MAX_BLOB_BYTES: 99,
    });
    expect(optionsFor('registry:5000')).toEqual({ insecure: true, username: 'u', password: 'p', maxBlobBytes: 99 });
    expect(optionsFor('ghcr.io')).toEqual({ maxBlobBytes: 99 });
    expect(new RegistryClient('registry:5000', optionsFor('registry:5000')).baseUrl).toBe('http://registry:5000');
    expect(new RegistryClient('ghcr.io', optionsFor('ghcr.io')).baseUrl).toBe('https://ghcr.io');
  });
});
