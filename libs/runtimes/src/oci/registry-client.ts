import { createHash, randomBytes } from 'crypto';
import { createWriteStream, promises as fs } from 'fs';
import * as path from 'path';
import { Readable, Transform } from 'stream';
import { pipeline } from 'stream/promises';
import { sha256Digest } from '../build/digest';
import { isLoopbackRegistry } from './reference';

export const MediaTypes = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

const MANIFEST_ACCEPT = [MediaTypes.OciManifest, MediaTypes.OciIndex, MediaTypes.DockerManifest, MediaTypes.DockerManifestList].join(', ');

export interface RegistryCredentials {
  username?: string;
  password?: string;
}

export interface RegistryClientOptions extends RegistryCredentials {
  /** Plain HTTP; defaults to true for loopback registries only. */
  insecure?: boolean;
  /** Blobs larger than this are uploaded in chunks (PATCH) rather than in one PUT. */
  chunkSize?: number;
  /** Largest blob pulled (HKS_OCI_MAX_BLOB_BYTES); a larger one is refused before or while it is read. */
  maxBlobBytes?: number;
}

/** Largest manifest read (the distribution spec lets registries refuse those over 4 MiB). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const DEFAULT_MAX_BLOB_BYTES = 2 * 1024 * 1024 * 1024;
/** Registries send blobs to S3 or a CDN: one or two hops; more is a loop. */
const MAX_REDIRECTS = 5;

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface FetchedManifest {
  mediaType: string;
  digest: string;
  body: Buffer;
}

/** What happened to a blob on push: already there, mounted from another repository, or uploaded. */
export type BlobPushResult = 'exists' | 'mounted' | 'uploaded';

/** One challenge of a WWW-Authenticate header: its scheme and parameters (RFC 7235). */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

export function parseAuthChallenge(header: string): AuthChallenge | undefined {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let p; (p = re.exec(m[2]));) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  return { scheme: m[1].toLowerCase(), params };
}

/**
 * A daemonless client of the OCI distribution API (v2): enough to pull a base image's manifest,
 * config and layers, and to push blobs (mounted, monolithic or chunked) and manifests. It answers a
 * registry's 401 the way docker does: Basic with the credentials, or Bearer with a token fetched from the
 * challenge's realm (Docker Hub, GHCR, Harbor), kept per repository and scope.
 */
export class RegistryClient {
  readonly baseUrl: string;
  private readonly basic?: string;
  private readonly chunkSize: number;
  readonly maxBlobBytes: number;
  /** The Authorization that last worked, by repository ('' for /v2/ itself). */
  private readonly authByRepo = new Map<string, string>();

  constructor(
    readonly registry: string,
    private readonly o: RegistryClientOptions = {},
  ) {
    const insecure = o.insecure ?? isLoopbackRegistry(registry);
    this.baseUrl = `${insecure ? 'http' : 'https'}://${registry}`;
    if (o.username) this.basic = `Basic ${Buffer.from(`${o.username}:${o.password ?? ''}`).toString('base64')}`;
    this.chunkSize = o.chunkSize ?? 16 * 1024 * 1024;
    this.maxBlobBytes = o.maxBlobBytes ?? DEFAULT_MAX_BLOB_BYTES;
  }

  private async request(method: string, url: string, init: { headers?: Record<string, string>; body?: Buffer } = {}): Promise<Response> {
    const target = url.startsWith('http') ? url : `${this.baseUrl}${url}`;
    const repo = repositoryOf(new URL(target).pathname);
    const auth = this.authByRepo.get(repo) ?? this.basic;
    let res = await this.send(method, target, init, auth);
    if (res.status !== 401) return res;
    const challenge = parseAuthChallenge(res.headers.get('www-authenticate') ?? '');
    let retry: string | undefined;
    if (challenge?.scheme === 'bearer' && challenge.params.realm) retry = await this.bearerToken(challenge.params, method, repo);
    else if (challenge?.scheme === 'basic' && this.basic && auth !== this.basic) retry = this.basic;
    if (!retry) return res;
    await drain(res);
    res = await this.send(method, target, init, retry);
    if (res.status !== 401) this.authByRepo.set(repo, retry);
    return res;
  }

  /** A token from the challenge's realm (docker's token protocol), asked with the credentials when there are some. */
  private async bearerToken(params: Record<string, string>, method: string, repo: string): Promise<string> {
    const realm = new URL(params.realm, this.baseUrl);
    if (params.service) realm.searchParams.set('service', params.service);
    const scope = params.scope ?? (repo ? `repository:${repo}:${method === 'GET' || method === 'HEAD' ? 'pull' : 'pull,push'}` : undefined);
    if (scope) realm.searchParams.set('scope', scope);
    if (realm.protocol !== 'https:' && this.baseUrl.startsWith('https:'))
      throw new RegistryError(`registry ${this.registry} names a token service over plain HTTP (${realm.origin}); refused`);
    // The credentials go to the token service, on its own host (Docker Hub's is auth.docker.io), over HTTPS when the registry is.
    const res = await this.send('GET', realm.toString(), {}, this.basic, realm.host);
    if (!res.ok) await this.fail(res, `get a token from ${realm.origin}${realm.pathname}`);
    const body = (await res.json().catch(() => ({}))) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError(`registry ${this.registry}: its token service ${realm.origin}${realm.pathname} answered no token`);
    return `Bearer ${token}`;
  }

  /**
   * One request, following redirects by hand: at most MAX_REDIRECTS, never from HTTPS to HTTP, and the
   * Authorization header only to `authHost`: the registry's own host (a blob's S3 or CDN URL is signed by itself), or
   * the token service's when asking it for a token.
   */
  private async send(
    method: string,
    target: string,
    init: { headers?: Record<string, string>; body?: Buffer },
    auth?: string,
    authHost = new URL(this.baseUrl).host,
  ): Promise<Response> {
    const origin = authHost;
    let url = new URL(target);
    for (let hops = 0; ; hops++) {
      const headers: Record<string, string> = { ...(init.headers ?? {}) };
      if (auth && url.host === origin) headers.authorization = auth;
      let res: Response;
      try {
        res = await fetch(url, { method, headers, body: init.body, redirect: 'manual' });
      } catch (err) {
        const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
        throw new RegistryError(`registry ${this.registry} is unreachable (${method} ${url.origin}${url.pathname}): ${cause}`);
      }
      const location = res.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(res.status) || !location || (method !== 'GET' && method !== 'HEAD')) return res;
      await drain(res);
      if (hops >= MAX_REDIRECTS) throw new RegistryError(`registry ${this.registry}: more than ${MAX_REDIRECTS} redirects for ${method} ${target}`);
      const next = new URL(location, url);
      if (url.protocol === 'https:' && next.protocol !== 'https:')
        throw new RegistryError(`registry ${this.registry}: a redirect from HTTPS to ${next.protocol.replace(':', '')} (${next.origin}) is refused`);
      url = next;
    }
  }

  private async fail(res: Response, what: string): Promise<never> {
    let detail = '';
    try {
      const body = (await res.json()) as { errors?: Array<{ code?: string; message?: string }> };
      detail = (body.errors ?? []).map((e) => `${e.code ?? ''} ${e.message ?? ''}`.trim()).join('; ');
    } catch {
      // Not the registry's JSON error format; the status says enough.
    }
    const hint = res.status === 401 || res.status === 403 ? ' (check HKS_OCI_USERNAME / HKS_OCI_PASSWORD)' : '';
    throw new RegistryError(`registry ${this.registry}: ${what} failed with HTTP ${res.status}${detail ? `: ${detail}` : ''}${hint}`, res.status);
  }

  async ping(): Promise<void> {
    const res = await this.request('GET', '/v2/');
    if (res.status !== 200) await this.fail(res, 'GET /v2/');
    await drain(res);
  }

  async getManifest(repository: string, reference: string, accept = MANIFEST_ACCEPT): Promise<FetchedManifest> {
    const res = await this.request('GET', `/v2/${repository}/manifests/${reference}`, { headers: { accept } });
    if (res.status === 404) throw new RegistryError(`image ${this.registry}/${repository}:${reference} does not exist`, 404);
    if (!res.ok) await this.fail(res, `GET manifest ${repository}:${reference}`);
    const body = await readCapped(res, MAX_MANIFEST_BYTES, () => `manifest ${repository}:${reference} is larger than ${MAX_MANIFEST_BYTES} bytes`);
    const digest = sha256Digest(body);
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0].trim() || (JSON.parse(body.toString('utf8')).mediaType as string);
    return { mediaType, digest, body };
  }

  /** A small blob (an image config) in memory, checked against its digest and HKS_OCI_MAX_BLOB_BYTES. */
  async getBlob(repository: string, digest: string): Promise<Buffer> {
    const res = await this.request('GET', `/v2/${repository}/blobs/${digest}`);
    if (!res.ok) await this.fail(res, `GET blob ${repository}@${digest}`);
    const body = await readCapped(res, this.maxBlobBytes, () => this.tooLarge(digest));
    if (sha256Digest(body) !== digest) throw new RegistryError(`blob ${digest} from ${this.registry}/${repository} does not match its digest`);
    return body;
  }

  /**
   * A blob streamed into `file` (a layer: never whole in memory), its sha256 computed on the way and checked before
   * the file appears under its name; more than HKS_OCI_MAX_BLOB_BYTES stops the download. Returns its size.
   */
  async downloadBlob(repository: string, digest: string, file: string): Promise<number> {
    const res = await this.request('GET', `/v2/${repository}/blobs/${digest}`);
    if (!res.ok) await this.fail(res, `GET blob ${repository}@${digest}`);
    const announced = Number(res.headers.get('content-length') ?? NaN);
    if (announced > this.maxBlobBytes) {
      await res.body?.cancel().catch(() => undefined);
      throw new RegistryError(this.tooLarge(digest, announced));
    }
    const tmp = `${file}.${randomBytes(4).toString('hex')}.part`;
    await fs.mkdir(path.dirname(file), { recursive: true });
    const hash = createHash('sha256');
    let size = 0;
    const max = this.maxBlobBytes;
    const tooLarge = () => this.tooLarge(digest);
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > max) return done(new RegistryError(tooLarge()));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      if (!res.body) throw new RegistryError(`blob ${digest} from ${this.registry}/${repository} came without a body`);
      await pipeline(Readable.fromWeb(res.body as import('stream/web').ReadableStream), meter, createWriteStream(tmp, { mode: 0o644 }));
      const got = `sha256:${hash.digest('hex')}`;
      if (got !== digest) throw new RegistryError(`blob ${digest} from ${this.registry}/${repository} does not match its digest (got ${got})`);
      await fs.rename(tmp, file);
      return size;
    } catch (err) {
      await fs.rm(tmp, { force: true });
      if (err instanceof RegistryError) throw err;
      throw new RegistryError(`registry ${this.registry}: reading blob ${digest} failed: ${(err as Error).message}`);
    }
  }

  private tooLarge(digest: string, size?: number): string {
    return `blob ${digest} of ${this.registry} is ${size !== undefined ? `${size} bytes, ` : ''}larger than HKS_OCI_MAX_BLOB_BYTES (${this.maxBlobBytes} bytes)`;
  }

  async hasBlob(repository: string, digest: string): Promise<boolean> {
    const res = await this.request('HEAD', `/v2/${repository}/blobs/${digest}`);
    await drain(res);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    return this.fail(res, `HEAD blob ${repository}@${digest}`);
  }

  /**
   * Pushes a blob unless the repository has it: cross-mounts it from `mountFrom` (same registry)
   * when given, else uploads `data` (or what `load` returns), in one PUT or in chunks.
   */
  async pushBlob(repository: string, digest: string, data: Buffer | (() => Promise<Buffer>), mountFrom?: string): Promise<BlobPushResult> {
    if (await this.hasBlob(repository, digest)) return 'exists';
    let location: string;
    if (mountFrom) {
      const res = await this.request('POST', `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(mountFrom)}`);
      if (res.status !== 201 && res.status !== 202) await this.fail(res, `mount ${digest} from ${mountFrom}`);
      await drain(res);
      if (res.status === 201) return 'mounted';
      // 202: the registry could not mount and opened an ordinary upload instead.
      location = this.location(res);
    } else {
      const res = await this.request('POST', `/v2/${repository}/blobs/uploads/`);
      if (res.status !== 202) await this.fail(res, `start upload to ${repository}`);
      await drain(res);
      location = this.location(res);
    }
    const bytes = typeof data === 'function' ? await data() : data;
    if (bytes.length > this.chunkSize) {
      for (let start = 0; start < bytes.length; start += this.chunkSize) {
        const chunk = bytes.subarray(start, Math.min(start + this.chunkSize, bytes.length));
        const res = await this.request('PATCH', location, {
          headers: {
            'content-type': 'application/octet-stream',
            'content-range': `${start}-${start + chunk.length - 1}`,
          },
          body: chunk,
        });
        if (res.status !== 202) await this.fail(res, `upload chunk of ${digest}`);
        await drain(res);
        location = this.location(res);
      }
      const res = await this.request('PUT', withQuery(location, 'digest', digest), { body: Buffer.alloc(0) });
      if (res.status !== 201) await this.fail(res, `complete upload of ${digest}`);
      await drain(res);
    } else {
      const res = await this.request('PUT', withQuery(location, 'digest', digest), {
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes,
      });
      if (res.status !== 201) await this.fail(res, `upload ${digest}`);
      await drain(res);
    }
    return 'uploaded';
  }

  /** PUTs a manifest under a tag (or its digest); returns the manifest digest. */
  async putManifest(repository: string, reference: string, body: Buffer, mediaType: string): Promise<string> {
    const res = await this.request('PUT', `/v2/${repository}/manifests/${reference}`, { headers: { 'content-type': mediaType }, body });
    if (res.status !== 201) await this.fail(res, `PUT manifest ${repository}:${reference}`);
    await drain(res);
    const digest = sha256Digest(body);
    const reported = res.headers.get('docker-content-digest');
    if (reported && reported !== digest) throw new RegistryError(`registry stored manifest ${reported}, expected ${digest}`);
    return digest;
  }

  private location(res: Response): string {
    const loc = res.headers.get('location');
    if (!loc) throw new RegistryError(`registry ${this.registry} answered an upload without a Location header`);
    return new URL(loc, this.baseUrl).toString();
  }
}

/** Reads a body into memory, failing (and stopping the download) past `max` bytes. */
async function readCapped(res: Response, max: number, problem: () => string): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  if (Number(res.headers.get('content-length') ?? NaN) > max) {
    await res.body.cancel().catch(() => undefined);
    throw new RegistryError(problem());
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > max) throw new RegistryError(problem());
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** The repository a /v2/<name>/(manifests|blobs|tags)/... path is about ('' for /v2/ and the catalog). */
function repositoryOf(pathname: string): string {
  const m = /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(pathname);
  return m ? m[1] : '';
}

/** Reads an answer's body to the end so its connection goes back to the pool. */
async function drain(res: Response): Promise<void> {
  try {
    if (res.bodyUsed) return;
    await res.arrayBuffer();
  } catch {
    // Nothing to read, or the body was already read by an error path.
  }
}

function withQuery(url: string, key: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return u.toString();
}
