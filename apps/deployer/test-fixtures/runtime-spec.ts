import { randomUUID } from 'crypto';
import { FunctionConfigDto, FunctionRuntimeSpec } from '@platform/contracts';
import { effectiveConfigOf } from '@platform/runtimes';

/** A FunctionRuntimeSpec as the registry answers it, for a function built with the given config. */
export function runtimeSpec(overrides: Partial<FunctionRuntimeSpec> = {}, config: FunctionConfigDto = {}): FunctionRuntimeSpec {
  const family = overrides.family ?? 'node';
  return {
    functionId: randomUUID(),
    label: 'hello-fn',
    version: 1,
    runtime: 'node',
    family: 'node',
    template: 'node',
    entrypoint: 'handler.*',
    bundleDigest: `sha256:${'ab'.repeat(32)}`,
    image: `127.0.0.1:5000/hks/hello-fn@sha256:${'cd'.repeat(32)}`,
    config: effectiveConfigOf(config, family),
    ...overrides,
  };
}
