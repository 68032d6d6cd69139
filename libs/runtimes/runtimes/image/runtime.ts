import { randomUUID } from 'crypto';
import * as path from 'path';
import type { RuntimeDescriptor } from '../../src/descriptor';
import { pinImage, RegistryOptionsFor } from '../../src/oci/image-build';
import { parseImageReference } from '../../src/oci/reference';
import { custom } from '../custom/runtime';

/**
 * A user's own OCI image (`image:` on create instead of code): its Entrypoint + Cmd serves HTTP on $PORT, as a
 * custom function does. The build pins the reference to its digest; Knative runs that image as is; the invoker
 * pulls and unpacks it and runs it with its rootfs as / through the custom runtime's adapter.
 */
export const image: RuntimeDescriptor = {
  name: 'image',
  title: 'OCI image (its entrypoint serving HTTP on $PORT)',
  names: /^image$/i,
  aliases: ['image'],
  versions: custom.versions,
  templates: [{ name: 'image', handlerFile: '', moduleFiles: () => [] }],
  entrypoint: {
    describe: 'the image reference, registry/repository:tag or @sha256:...',
    problem: (e) => {
      try {
        parseImageReference(e.trim());
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    },
    // No file: the image is the code.
    module: () => undefined,
  },
  async build({ dir, source, step, log, tools }) {
    step('resolving the image');
    const registries = tools.image as { optionsFor?: RegistryOptionsFor } | undefined;
    await pinImage(source.entrypoint, dir, log, registries?.optionsFor);
  },
  // A tag may point at another image tomorrow: every build resolves it again (one manifest request). An unchanged
  // image still gives the same bundle digest, so deployments do not change for nothing.
  buildInputs: () => ({ resolvedAt: randomUUID() }),
  worker: {
    command: (interpreter, dir) => [interpreter, path.posix.join(dir, '..', 'custom', 'adapter', 'index.js')],
    ships: [],
    root: 'image',
  },
  image: { baseSetting: '', baseExample: '', commandSetting: '', defaultCommand: '', own: true },
  // Each image is its own root: no generic worker can wait for it.
  coldStart: { prewarm: false },
  concurrency: 'one',
};
