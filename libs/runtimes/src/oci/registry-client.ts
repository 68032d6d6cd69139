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
}

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

/**
 * A daemonless client of the OCI distribution API (v2): enough to pull a base image's manifest,
 * config and layers, and to push blobs (mounted, monolithic or chunked) and manifests.
 */
export class RegistryClient {
  readonly baseUrl: string;
  private readonly auth?: string;
  private readonly chunkSize: number;

  constructor(
    readonly registry: string,
    private readonly o: RegistryClientOptions = {},
  ) {
    const insecure = o.insecure ?? isLoopbackRegistry(registry);
    this.baseUrl = `${insecure ? 'http' : 'https'}://${registry}`;
    if (o.username) this.auth = `Basic ${Buffer.from(`${o.username}:${o.password ?? ''}`).toString('base64')}`;
    this.chunkSize = o.chunkSize ?? 16 * 1024 * 1024;
  }

  private async request(method: string, url: string, init: { headers?: Record<string, string>; body?: Buffer } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (this.auth) headers.authorization = this.auth;
    const target = url.startsWith('http') ? url : `${this.baseUrl}${url}`;
    try {
      return await fetch(target, { method, headers, body: init.body, redirect: 'follow' });
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      throw new RegistryError(`registry ${this.registry} is unreachable (${method} ${target}): ${cause}`);
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
    const body = Buffer.from(await res.arrayBuffer());
    const digest = sha256Digest(body);
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0].trim() || (JSON.parse(body.toString('utf8')).mediaType as string);
    return { mediaType, digest, body };
  }

  async getBlob(repository: string, digest: string): Promise<Buffer> {
    const res = await this.request('GET', `/v2/${repository}/blobs/${digest}`);
    if (!res.ok) await this.fail(res, `GET blob ${repository}@${digest}`);
    const body = Buffer.from(await res.arrayBuffer());
    if (sha256Digest(body) !== digest) throw new RegistryError(`blob ${digest} from ${this.registry}/${repository} does not match its digest`);
    return body;
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
