import { promises as fs } from 'fs';
import * as path from 'path';
import { BuildFailure, BuildLogSink } from '../build/errors';
import { IMAGE_FILE, imageCommand, resolveImage, ResolvedImage } from './image-resolve';
import { formatReference, parseImageReference } from './reference';
import { RegistryClient, RegistryClientOptions } from './registry-client';

/** How the build reaches registries: options for one of them by host (the builder's own registry has credentials). */
export type RegistryOptionsFor = (registry: string) => RegistryClientOptions;

/**
 * The build of an image function: the reference resolved to the digest of its manifest (a tag is pinned here), the
 * layers checked to be in the registry, and the result written into the bundle (IMAGE_FILE) for the invoker, which
 * pulls and unpacks it at deploy time. Fails the build with one line a person can act on.
 */
export async function pinImage(reference: string, dir: string, log: BuildLogSink, optionsFor: RegistryOptionsFor = () => ({})): Promise<ResolvedImage> {
  let ref;
  try {
    ref = parseImageReference(reference.trim());
  } catch (err) {
    throw new BuildFailure((err as Error).message);
  }
  const client = new RegistryClient(ref.registry, optionsFor(ref.registry));
  log(`resolving ${formatReference(ref)}\n`);
  let image: ResolvedImage;
  try {
    image = await resolveImage(client, ref);
    for (const layer of image.layers) {
      if (!(await client.hasBlob(ref.repository, layer.digest))) throw new Error(`layer ${layer.digest} is missing from the registry`);
    }
  } catch (err) {
    throw new BuildFailure(`image ${formatReference(ref)}: ${(err as Error).message.replace(/^image \S+ /, '')}`);
  }
  log(`pinned to ${image.pinned} (${image.layers.length} layer(s), ${image.layers.reduce((n, l) => n + l.size, 0)} bytes)\n`);
  log(`runs ${JSON.stringify(imageCommand(image.config))} in ${image.config.workingDir}\n`);
  await fs.mkdir(path.join(dir, path.dirname(IMAGE_FILE)), { recursive: true });
  await fs.writeFile(path.join(dir, IMAGE_FILE), JSON.stringify(image, null, 2) + '\n', { mode: 0o644 });
  return image;
}
