import { FunctionRuntimeSpec, FunctionView, ResolvedRuntime, StateError, ValidationError } from '@platform/contracts';
import { effectiveConfigOf, resolveRuntime } from '@platform/runtimes';
import { FunctionEntity } from './function.entity';

export function invokeUrl(id: string): string {
  return `/api/v1/functions/invoke/${id}`;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** What a function's runtime name runs on with the runtimes installed now; never a silent swap of version. */
export function resolvedRuntimeOf(f: Pick<FunctionEntity, 'runtime' | 'family'>): ResolvedRuntime {
  try {
    return resolveRuntime(f.runtime).resolved;
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    // Stored when it could run (the interpreter went away since): the view says it cannot run now, and why.
    return { language: f.family, requested: f.runtime, version: null, warning: err.message };
  }
}

export function toView(f: FunctionEntity): FunctionView {
  const resolvedRuntime = resolvedRuntimeOf(f);
  return {
    id: f.id,
    label: f.label,
    description: f.description,
    template: f.template,
    runtime: f.runtime,
    resolvedRuntime,
    warnings: resolvedRuntime.warning ? [resolvedRuntime.warning] : [],
    handler: f.handler,
    files: f.files,
    entrypoint: f.entrypoint,
    config: f.config ?? {},
    status: f.status,
    statusReason: f.statusReason,
    version: f.version,
    build: f.buildId
      ? {
          id: f.buildId,
          status: f.buildStatus ?? 'QUEUED',
          version: f.buildVersion ?? undefined,
          bundleDigest: f.buildStatus === 'SUCCEEDED' ? f.bundleDigest : null,
          image: f.buildStatus === 'SUCCEEDED' ? f.image : null,
          error: f.buildError,
          startedAt: iso(f.buildStartedAt),
          finishedAt: iso(f.buildFinishedAt),
        }
      : null,
    invokeUrl: invokeUrl(f.id),
    createdAt: f.createdAt.toISOString(),
    updatedAt: f.updatedAt.toISOString(),
  };
}

/** What it takes to run the function: only its current version, and only once that version built. */
export function toRuntimeSpec(f: FunctionEntity): FunctionRuntimeSpec {
  if (!f.bundleDigest || f.builtVersion === null) {
    throw new StateError(`function ${f.label} has no successful build; POST /api/v1/functions/build/${f.id} first`);
  }
  if (f.builtVersion !== f.version) {
    throw new StateError(
      `function ${f.label} has no successful build of version ${f.version} (version ${f.builtVersion} was built before ` +
        `its code or config changed); POST /api/v1/functions/build/${f.id} first`,
    );
  }
  return {
    functionId: f.id,
    label: f.label,
    version: f.version,
    runtime: f.runtime,
    family: f.family,
    runtimeVersion: resolvedRuntimeOf(f).version ?? undefined,
    template: f.template,
    entrypoint: f.entrypoint,
    bundleDigest: f.bundleDigest,
    image: f.image,
    config: effectiveConfigOf(f.config, f.family),
  };
}
