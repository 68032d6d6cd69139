import { formatReference, ImageReference } from './reference';
import { MediaTypes, RegistryClient, RegistryError } from './registry-client';

/** Where a function's bundle holds the image it runs (a ResolvedImage as JSON), written by its build. */
export const IMAGE_FILE = '.hks/image.json';

/** A blob as a manifest lists it. */
export interface BlobDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** What running an image needs from its config (OCI image spec `config`). */
export interface ImageRunConfig {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  user?: string;
  exposedPorts: string[];
}

/** An image pinned to one manifest: what a deployment runs, whatever its tag points at later. */
export interface ResolvedImage {
  ref: ImageReference;
  /** registry/repository@sha256:... of the platform manifest (for an index, the linux/<arch> entry). */
  pinned: string;
  manifestDigest: string;
  layers: BlobDescriptor[];
  config: ImageRunConfig;
  architecture?: string;
  os?: string;
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };
const LAYER_TYPES = new Set<string>([
  MediaTypes.OciLayerGzip,
  MediaTypes.DockerLayerGzip,
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.docker.image.rootfs.diff.tar',
]);

/** The registry's architecture name of this machine (amd64, arm64 ...). */
export function hostArchitecture(): string {
  return ARCH[process.arch] ?? process.arch;
}

function list(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}

/**
 * Resolves a reference (tag or digest) to the manifest of this machine's platform, its layers and run
 * config. An index (multi-platform image) picks its linux/<arch> entry; the pinned reference names that
 * entry's digest. Registry problems come out as RegistryError (404 for an image that does not exist).
 */
export async function resolveImage(client: RegistryClient, ref: ImageReference, arch = hostArchitecture()): Promise<ResolvedImage> {
  const name = formatReference(ref);
  let manifest = await client.getManifest(ref.repository, ref.digest ?? (ref.tag as string));
  if (ref.digest && manifest.digest !== ref.digest) throw new RegistryError(`image ${name}: the registry answered a manifest of digest ${manifest.digest}`);
  let parsed = JSON.parse(manifest.body.toString('utf8')) as {
    manifests?: Array<{ digest: string; platform?: { os?: string; architecture?: string } }>;
    config?: BlobDescriptor;
    layers?: BlobDescriptor[];
  };
  if (manifest.mediaType === MediaTypes.OciIndex || manifest.mediaType === MediaTypes.DockerManifestList || Array.isArray(parsed.manifests)) {
    const entry = (parsed.manifests ?? []).find((m) => m.platform?.os === 'linux' && m.platform?.architecture === arch);
    if (!entry) throw new RegistryError(`image ${name} has no linux/${arch} variant`, 422);
    manifest = await client.getManifest(ref.repository, entry.digest);
    parsed = JSON.parse(manifest.body.toString('utf8')) as typeof parsed;
  }
  if (!parsed.config?.digest || !Array.isArray(parsed.layers))
    throw new RegistryError(`image ${name} has an unsupported manifest (${manifest.mediaType})`, 422);
  for (const layer of parsed.layers) {
    if (!LAYER_TYPES.has(layer.mediaType))
      throw new RegistryError(`image ${name} has a layer of unsupported type ${layer.mediaType} (tar or tar+gzip only)`, 422);
  }
  const file = JSON.parse((await client.getBlob(ref.repository, parsed.config.digest)).toString('utf8')) as {
    architecture?: string;
    os?: string;
    config?: { Entrypoint?: unknown; Cmd?: unknown; Env?: unknown; WorkingDir?: unknown; User?: unknown; ExposedPorts?: Record<string, unknown> };
  };
  if (file.os && file.os !== 'linux') throw new RegistryError(`image ${name} is for ${file.os}, not linux`, 422);
  if (file.architecture && file.architecture !== arch) throw new RegistryError(`image ${name} is for ${file.architecture}, this machine runs ${arch}`, 422);
  const c = file.config ?? {};
  const config: ImageRunConfig = {
    entrypoint: list(c.Entrypoint),
    cmd: list(c.Cmd),
    env: list(c.Env),
    workingDir: typeof c.WorkingDir === 'string' && c.WorkingDir ? c.WorkingDir : '/',
    ...(typeof c.User === 'string' && c.User ? { user: c.User } : {}),
    exposedPorts: Object.keys(c.ExposedPorts ?? {}),
  };
  if (!config.entrypoint.length && !config.cmd.length) throw new RegistryError(`image ${name} has neither Entrypoint nor Cmd: nothing to run`, 422);
  return {
    ref,
    pinned: formatReference({ ...ref, tag: undefined, digest: manifest.digest }),
    manifestDigest: manifest.digest,
    layers: parsed.layers,
    config,
    architecture: file.architecture,
    os: file.os,
  };
}

/** The image's process: Entrypoint + Cmd; its environment: PATH and the image's Env, then the function's own. */
export function imageCommand(config: ImageRunConfig): string[] {
  return [...config.entrypoint, ...config.cmd];
}

export function imageEnv(config: ImageRunConfig, own: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
  for (const entry of config.env) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return { ...env, ...own };
}
