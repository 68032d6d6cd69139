import { canonicalJson, deterministicGzip, deterministicTar, MediaTypes, sha256Digest, TarEntry } from '@platform/runtimes';

/** A content descriptor, as in manifests. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface Layer extends Descriptor {
  /** The compressed bytes pushed to the registry. */
  blob: Buffer;
  /** sha256 of the uncompressed tar, listed in the config's rootfs.diff_ids. */
  diffId: string;
}

/** The parts of an image config (OCI image spec) the builder reads and writes. */
export interface ImageConfigFile {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: {
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    ExposedPorts?: Record<string, object>;
    Labels?: Record<string, string>;
    User?: string;
    [k: string]: unknown;
  };
  rootfs?: { type: string; diff_ids: string[] };
  history?: Array<{ created?: string; created_by?: string; comment?: string; empty_layer?: boolean }>;
  [k: string]: unknown;
}

/** Fixed creation time: the same inputs must give the same config bytes, hence the same image digest. */
export const EPOCH_ISO = '1970-01-01T00:00:00Z';

export async function layerFromEntries(entries: TarEntry[]): Promise<Layer> {
  const tarBytes = await deterministicTar(entries);
  const blob = await deterministicGzip(tarBytes);
  return { mediaType: MediaTypes.OciLayerGzip, digest: sha256Digest(blob), size: blob.length, blob, diffId: sha256Digest(tarBytes) };
}

/** Docker's gzip layer type is the same bytes as OCI's; OCI manifests name it the OCI way. */
export function ociLayerMediaType(mediaType: string): string {
  return mediaType === MediaTypes.DockerLayerGzip ? MediaTypes.OciLayerGzip : mediaType;
}

/** Sets `KEY=value` pairs over a base Env list: existing keys keep their place, new ones are appended sorted. */
export function mergeEnv(base: string[], overrides: Record<string, string>): string[] {
  const out = [...base];
  const index = new Map(out.map((e, i) => [e.split('=')[0], i]));
  for (const key of Object.keys(overrides).sort()) {
    const entry = `${key}=${overrides[key]}`;
    const at = index.get(key);
    if (at === undefined) {
      index.set(key, out.length);
      out.push(entry);
    } else {
      out[at] = entry;
    }
  }
  return out;
}

export interface FunctionImageSpec {
  /** The base image's config, or null for an image of the added layers only. */
  base: ImageConfigFile | null;
  entrypoint: string[];
  /** Config env of the function first, then the platform's own (HKS_ENTRYPOINT, PORT), which win. */
  env: Record<string, string>;
  workingDir: string;
  port: number;
  labels: Record<string, string>;
  /** The layers added on top of the base, with what made them (for history). */
  added: Array<{ layer: Layer; createdBy: string }>;
}

/** The new image's config: the base's, with the function's entry point, env, layers and history. */
export function buildImageConfig(spec: FunctionImageSpec): Buffer {
  const base = spec.base ?? {};
  const baseConfig = base.config ?? {};
  const config: ImageConfigFile = {
    ...base,
    architecture: base.architecture ?? 'amd64',
    os: base.os ?? 'linux',
    created: EPOCH_ISO,
    config: {
      ...baseConfig,
      Env: mergeEnv(baseConfig.Env ?? [], spec.env),
      Entrypoint: spec.entrypoint,
      // A base image's Cmd would be passed to the shim as arguments it does not expect.
      Cmd: null,
      WorkingDir: spec.workingDir,
      ExposedPorts: { ...(baseConfig.ExposedPorts ?? {}), [`${spec.port}/tcp`]: {} },
      Labels: { ...(baseConfig.Labels ?? {}), ...spec.labels },
    },
    rootfs: { type: 'layers', diff_ids: [...(base.rootfs?.diff_ids ?? []), ...spec.added.map((a) => a.layer.diffId)] },
    history: [...(base.history ?? []), ...spec.added.map((a) => ({ created: EPOCH_ISO, created_by: a.createdBy }))],
  };
  return Buffer.from(canonicalJson(config), 'utf8');
}

export function buildImageManifest(config: Buffer, layers: Descriptor[], annotations?: Record<string, string>): Buffer {
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MediaTypes.OciManifest,
    config: { mediaType: MediaTypes.OciConfig, digest: sha256Digest(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: ociLayerMediaType(l.mediaType), digest: l.digest, size: l.size })),
  };
  if (annotations && Object.keys(annotations).length) manifest.annotations = annotations;
  return Buffer.from(canonicalJson(manifest), 'utf8');
}
