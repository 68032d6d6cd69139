import { functionInvokePath, FunctionRuntimeSpec, FunctionVersionView, FunctionView, ResolvedRuntime, StateError, ValidationError } from '@platform/contracts';
import { effectiveConfigOf, interpreters, resolveRuntime, runtimeDescriptor, runtimeFamily } from '@platform/runtimes';
import { FunctionVersionEntity } from './function-version.entity';
import { FunctionEntity } from './function.entity';

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

/**
 * The runtime version a build recorded, as long as it is installed: a version whose interpreter is gone is a 409
 * saying so, never a run on another one. Builds older than the record resolve as they did.
 */
export function recordedRuntimeVersion(
  what: string,
  build: { runtime: string; family: string; runtimeVersion: string | null | undefined },
): string | undefined {
  if (!build.runtimeVersion) return resolvedRuntimeOf(build).version ?? undefined;
  const d = runtimeDescriptor(build.family);
  const installed = interpreters(d).map((i) => i.version);
  if (installed.includes(build.runtimeVersion)) return build.runtimeVersion;
  throw new StateError(
    `${what} was built for ${d.title} ${build.runtimeVersion} ("${build.runtime}"), which this platform no longer has ` +
      `(it has ${installed.join(', ') || 'none'}); build it again to run it on what is installed`,
  );
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
    invokeUrl: functionInvokePath(f.id),
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
    runtimeVersion: recordedRuntimeVersion(`function ${f.label}`, { runtime: f.runtime, family: f.family, runtimeVersion: f.builtRuntimeVersion }),
    template: f.template,
    entrypoint: f.entrypoint,
    bundleDigest: f.bundleDigest,
    image: f.image,
    config: effectiveConfigOf(f.config, f.family),
  };
}

export function toVersionView(v: FunctionVersionEntity, withCode: boolean): FunctionVersionView {
  return {
    functionId: v.functionId,
    version: v.version,
    template: v.template,
    runtime: v.runtime,
    entrypoint: v.entrypoint,
    config: (v.config ?? {}) as Record<string, unknown>,
    sourceDigest: v.sourceDigest ?? '',
    buildStatus: v.buildStatus ?? null,
    buildError: v.buildError ?? null,
    bundleDigest: v.buildStatus === 'SUCCEEDED' ? v.bundleDigest : null,
    image: v.buildStatus === 'SUCCEEDED' ? v.image : null,
    ...(withCode ? { handler: v.handler, files: v.files } : {}),
    createdAt: v.createdAt.toISOString(),
  };
}

/** What runs an older version: its own code, config and build; 409 until it has a successful build. */
export function versionRuntimeSpec(f: Pick<FunctionEntity, 'id' | 'label'>, v: FunctionVersionEntity): FunctionRuntimeSpec {
  const family = runtimeFamily(v.runtime);
  if (!family) throw new StateError(`version ${v.version} of function ${f.label} has a runtime (${v.runtime}) this platform no longer runs`);
  if (v.buildStatus !== 'SUCCEEDED' || !v.bundleDigest) {
    throw new StateError(
      `version ${v.version} of function ${f.label} has no successful build (${v.buildStatus ? `its build is ${v.buildStatus}` : 'it was never built'}); ` +
        `only built versions can be deployed`,
    );
  }
  return {
    functionId: f.id,
    label: f.label,
    version: v.version,
    runtime: v.runtime,
    family,
    runtimeVersion: recordedRuntimeVersion(`version ${v.version} of function ${f.label}`, { runtime: v.runtime, family, runtimeVersion: v.runtimeVersion }),
    template: v.template,
    entrypoint: v.entrypoint,
    bundleDigest: v.bundleDigest,
    image: v.image,
    config: effectiveConfigOf(v.config, family),
  };
}
