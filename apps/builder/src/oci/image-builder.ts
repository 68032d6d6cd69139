import { Inject, Injectable } from '@nestjs/common';
import { BuildInput, FUNCTION_PORT } from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import {
  BuildFailure,
  BuildLogSink,
  collectTree,
  formatReference,
  ImageReference,
  MediaTypes,
  parentDirectories,
  parseImageReference,
  readTar,
  RegistryClient,
  registryOptionsFor,
  runtimeDescriptor,
  sha256Digest,
  TarEntry,
} from '@platform/runtimes';
import { BuilderSettingsValues } from '../settings';
import { buildImageConfig, buildImageManifest, Descriptor, ImageConfigFile, Layer, layerFromEntries } from './image';
import { isCacheFile, locateShim, SHIM_MOUNT, shimServerEntrypoint } from './runtime-shims';

export const FUNCTION_DIR = '/function';

interface ResolvedBase {
  ref: ImageReference;
  client: RegistryClient;
  manifestDigest: string;
  layers: Descriptor[];
  config: ImageConfigFile;
}

/** Everything decided before the build runs; `inputs` goes into the build's input digest. */
export interface ImagePlan {
  registry: string;
  repository: string;
  tag: string;
  base: ResolvedBase;
  shimLayer: Layer;
  entrypoint: string[];
  env: Record<string, string>;
  inputs: Record<string, unknown>;
}

export interface BuiltImage {
  /** <registry>/<namespace>/<label>@sha256:... */
  image: string;
  digest: string;
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

/**
 * Builds a function's OCI image without a daemon: base image layers (cross-mounted or copied), the
 * runtime shim at /opt/hks/runtime and the bundle at /function, pushed over the distribution API.
 */
@Injectable()
export class ImageBuilder {
  constructor(@Inject(SETTINGS) private readonly settings: BuilderSettingsValues) {}

  get enabled(): boolean {
    return Boolean(this.settings.HKS_OCI_REGISTRY);
  }

  private client(registry: string): RegistryClient {
    return new RegistryClient(registry, registryOptionsFor(this.settings)(registry));
  }

  /** Resolves the base image and the shim layer; fails the build clearly when no base is configured. */
  async plan(job: BuildInput, log: BuildLogSink): Promise<ImagePlan> {
    const s = this.settings;
    const registry = s.HKS_OCI_REGISTRY as string;
    const family = job.family;
    const image = runtimeDescriptor(family).image;
    const baseSetting = image.baseSetting;
    // The runtimes' settings come from their descriptors (RuntimeImageSettings), so they have no static type.
    const runtimeSettings = s as unknown as Record<string, string | undefined>;
    const baseRef = runtimeSettings[baseSetting];
    if (!baseRef) {
      throw new BuildFailure(
        `HKS_OCI_REGISTRY is set but no base image is configured for ${family} functions: set ${baseSetting} (e.g. ${registry}/base/${image.baseExample})`,
      );
    }
    let ref: ImageReference;
    try {
      ref = parseImageReference(baseRef);
    } catch (err) {
      throw new BuildFailure(`${baseSetting}: ${(err as Error).message}`);
    }
    log(`\n==> resolving base image ${formatReference(ref)}\n`);
    const base = await this.resolveBase(ref);
    log(`base image ${formatReference({ ...ref, digest: base.manifestDigest })} (${base.layers.length} layer(s))\n`);

    const shimFiles = [];
    for (const part of locateShim(family)) {
      shimFiles.push(...parentDirectories(part.at.slice(1)), ...(await collectTree(part.dir, part.at.slice(1))).filter((e) => !isCacheFile(e.path)));
    }
    const shimLayer = await layerFromEntries(uniqueDirectories([...parentDirectories(SHIM_MOUNT.slice(1)), ...shimFiles]));
    const interpreter = runtimeSettings[image.commandSetting] ?? image.defaultCommand;
    // A custom function's image runs its program itself; the others the runtime shim's http mode.
    const entrypoint = image.entrypoint ? image.entrypoint(job.entrypoint, FUNCTION_DIR) : shimServerEntrypoint(family, interpreter);
    const env = {
      ...(job.config?.env ?? {}),
      HKS_ENTRYPOINT: job.entrypoint,
      HKS_RUNTIME: job.runtime,
      HKS_CODE_DIR: FUNCTION_DIR,
      PORT: String(FUNCTION_PORT),
    };
    const repository = `${s.HKS_NAMESPACE}/${job.label}`;
    return {
      registry,
      repository,
      tag: `v${job.version}`,
      base,
      shimLayer,
      entrypoint,
      env,
      inputs: { registry, repository, base: base.manifestDigest, shim: shimLayer.digest, entrypoint, env },
    };
  }

  private async resolveBase(ref: ImageReference): Promise<ResolvedBase> {
    const client = this.client(ref.registry);
    try {
      let manifest = await client.getManifest(ref.repository, ref.digest ?? (ref.tag as string));
      let parsed = JSON.parse(manifest.body.toString('utf8'));
      if (manifest.mediaType === MediaTypes.OciIndex || manifest.mediaType === MediaTypes.DockerManifestList) {
        const arch = ARCH[process.arch] ?? process.arch;
        const entry = (parsed.manifests ?? []).find(
          (m: { platform?: { os?: string; architecture?: string } }) => m.platform?.os === 'linux' && m.platform?.architecture === arch,
        );
        if (!entry) throw new BuildFailure(`base image ${formatReference(ref)} has no linux/${arch} variant`);
        manifest = await client.getManifest(ref.repository, entry.digest);
        parsed = JSON.parse(manifest.body.toString('utf8'));
      }
      if (!parsed.config?.digest || !Array.isArray(parsed.layers)) {
        throw new BuildFailure(`base image ${formatReference(ref)} has an unsupported manifest (${manifest.mediaType})`);
      }
      const config = JSON.parse((await client.getBlob(ref.repository, parsed.config.digest)).toString('utf8')) as ImageConfigFile;
      return { ref, client, manifestDigest: manifest.digest, layers: parsed.layers as Descriptor[], config };
    } catch (err) {
      if (err instanceof BuildFailure) throw err;
      throw new BuildFailure(`cannot read base image ${formatReference(ref)}: ${(err as Error).message}`);
    }
  }

  /** Assembles and pushes the image for a bundle; the same plan and bundle always give the same digest. */
  async build(plan: ImagePlan, bundleTar: Buffer, log: BuildLogSink): Promise<BuiltImage> {
    const target = this.client(plan.registry);
    log(`\n==> building image ${plan.registry}/${plan.repository}:${plan.tag}\n`);
    const appEntries = (await readTar(bundleTar)).map((e) => ({ ...e, path: `${FUNCTION_DIR.slice(1)}/${e.path}` }));
    const appLayer = await layerFromEntries([...parentDirectories(FUNCTION_DIR.slice(1)), ...appEntries]);
    const added = [
      { layer: plan.shimLayer, createdBy: `hks-builder: runtime shim at ${SHIM_MOUNT}` },
      { layer: appLayer, createdBy: `hks-builder: function bundle at ${FUNCTION_DIR}` },
    ];
    const config = buildImageConfig({
      base: plan.base.config,
      entrypoint: plan.entrypoint,
      env: plan.env,
      workingDir: FUNCTION_DIR,
      port: FUNCTION_PORT,
      labels: { 'dev.hks.entrypoint': String(plan.env.HKS_ENTRYPOINT), 'dev.hks.base': plan.base.manifestDigest },
      added,
    });
    const layers: Descriptor[] = [...plan.base.layers, ...added.map((a) => a.layer)];
    const manifest = buildImageManifest(config, layers);

    try {
      const base = plan.base;
      const sameRegistry = base.ref.registry === plan.registry;
      for (const layer of base.layers) {
        const how = await target.pushBlob(
          plan.repository,
          layer.digest,
          () => base.client.getBlob(base.ref.repository, layer.digest),
          sameRegistry ? base.ref.repository : undefined,
        );
        log(`base layer ${layer.digest}: ${how}\n`);
      }
      for (const { layer, createdBy } of added) {
        const how = await target.pushBlob(plan.repository, layer.digest, layer.blob);
        log(`layer ${layer.digest} (${createdBy.replace('hks-builder: ', '')}, ${layer.size} bytes): ${how}\n`);
      }
      const how = await target.pushBlob(plan.repository, sha256Digest(config), config);
      log(`config ${sha256Digest(config)}: ${how}\n`);
      const digest = await target.putManifest(plan.repository, plan.tag, manifest, MediaTypes.OciManifest);
      const image = `${plan.registry}/${plan.repository}@${digest}`;
      log(`pushed ${image} (tag ${plan.tag})\n`);
      return { image, digest };
    } catch (err) {
      throw new BuildFailure(`pushing the image failed: ${(err as Error).message}`);
    }
  }
}

/** Entries with each folder once (the parent folders of several parts of a runtime repeat). */
function uniqueDirectories(entries: TarEntry[]): TarEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => e.type !== 'directory' || (!seen.has(e.path) && seen.add(e.path) !== undefined));
}
