import { CommonSettings, SettingsOf, SettingsSchema } from '@platform/config';

export const BuilderSettings = {
  BUILDER_PORT: { kind: 'int', default: 8083, description: 'HTTP port of the builder (health, artifacts)' },
  BUILDER_CONCURRENCY: { kind: 'int', default: 2, description: 'Builds run at once by this builder' },
  BUILD_STEP_TIMEOUT_MS: { kind: 'int', default: 600_000, description: 'Longest a single build step (npm or pip install) may run' },
  HKS_NPM_REGISTRY: { kind: 'url', description: "npm registry for dependency installs (default: npm's own configuration)" },
  HKS_PYTHON: { kind: 'string', default: '/usr/bin/python3', description: 'Python interpreter that runs pip and the syntax check' },
  HKS_PIP_WHEELHOUSE: { kind: 'string', description: 'Directory of wheels that requirements.txt is installed from (pip --find-links)' },
  HKS_PIP_INDEX_URL: { kind: 'url', description: 'Python package index used instead of --no-index' },
  HKS_OCI_REGISTRY: { kind: 'string', description: 'OCI registry (host:port) images are pushed to; no image is built when unset' },
  HKS_OCI_INSECURE: { kind: 'bool', description: 'Talk plain HTTP to the registry (default: true for loopback addresses)' },
  HKS_OCI_USERNAME: { kind: 'string', description: 'Registry user (basic auth)' },
  HKS_OCI_PASSWORD: { kind: 'string', description: 'Registry password (basic auth)' },
  HKS_BASE_IMAGE_NODE: { kind: 'string', description: 'Base image of Node.js function images, e.g. 127.0.0.1:5000/base/node:20' },
  HKS_BASE_IMAGE_PYTHON: { kind: 'string', description: 'Base image of Python function images, e.g. 127.0.0.1:5000/base/python:3.11' },
  HKS_IMAGE_NODE_COMMAND: { kind: 'string', default: '/usr/bin/node', description: 'Node.js interpreter path inside the node base image' },
  HKS_IMAGE_PYTHON_COMMAND: { kind: 'string', default: '/usr/bin/python3', description: 'Python interpreter path inside the python base image' },
} as const satisfies SettingsSchema;

/** Optional settings without a default are undefined when unset, whatever SettingsOf says. */
export type BuilderSettingsValues = SettingsOf<typeof CommonSettings & typeof BuilderSettings>;
