import { CommonSettings, SettingsOf, SettingsSchema } from '@platform/config';
import { OciRegistrySettings, RUNTIMES } from '@platform/runtimes';

export const BuilderSettings = {
  BUILDER_PORT: { kind: 'int', default: 8083, description: 'HTTP port of the builder (health, artifacts)' },
  BUILDER_CONCURRENCY: { kind: 'int', default: 2, description: 'Builds run at once by this builder' },
  BUILD_STEP_TIMEOUT_MS: { kind: 'int', default: 600_000, description: 'Longest a single build step (npm or pip install) may run' },
  HKS_NPM_REGISTRY: { kind: 'url', description: "npm registry for dependency installs (default: npm's own configuration)" },
  HKS_PYTHON: { kind: 'string', default: '/usr/bin/python3', description: 'Python interpreter that runs pip and the syntax check' },
  HKS_PIP_WHEELHOUSE: { kind: 'string', description: 'Directory of wheels that requirements.txt is installed from (pip --find-links)' },
  HKS_PIP_INDEX_URL: { kind: 'url', description: 'Python package index used instead of --no-index' },
  HKS_GOPROXY: { kind: 'url', description: 'Go module proxy for Go builds (GOPROXY); unset: modules from vendor/ only (GOPROXY=off)' },
  HKS_GO_CACHE_DIR: { kind: 'string', description: 'Where Go builds keep their build and module caches (default: $TMPDIR/hks-go-cache)' },
  // HKS_OCI_REGISTRY, its transport and credentials, the pull limits: shared with the invoker.
  ...OciRegistrySettings,
  // Each runtime's base image and interpreter inside it: RuntimeImageSettings, from the descriptors.
} as const satisfies SettingsSchema;

/** HKS_BASE_IMAGE_<RUNTIME> and HKS_IMAGE_<RUNTIME>_COMMAND of every runtime (its descriptor's `image`). */
export const RuntimeImageSettings: SettingsSchema = Object.fromEntries(
  // A runtime whose functions are the user's own image has no base image; one whose image runs the program itself no interpreter.
  RUNTIMES.filter((r) => !r.image.own).flatMap((r) => [
    [r.image.baseSetting, { kind: 'string', description: `Base image of ${r.title} function images, e.g. 127.0.0.1:5000/base/${r.image.baseExample}` }],
    ...(r.image.entrypoint
      ? []
      : [
          [
            r.image.commandSetting,
            { kind: 'string', default: r.image.defaultCommand, description: `${r.title} interpreter path inside the ${r.name} base image` },
          ],
        ]),
  ]),
);

export const BuilderSettingsSchema: SettingsSchema = { ...BuilderSettings, ...RuntimeImageSettings };

/** Optional settings without a default are undefined when unset, whatever SettingsOf says. */
export type BuilderSettingsValues = SettingsOf<typeof CommonSettings & typeof BuilderSettings>;
