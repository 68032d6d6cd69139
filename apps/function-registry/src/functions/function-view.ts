import { effectiveConfig, functionInvokePath, FunctionRuntimeSpec, FunctionView, StateError } from '@platform/contracts';
import { FunctionEntity } from './function.entity';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toView(f: FunctionEntity): FunctionView {
  return {
    id: f.id,
    label: f.label,
    description: f.description,
    template: f.template,
    runtime: f.runtime,
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
    template: f.template,
    entrypoint: f.entrypoint,
    bundleDigest: f.bundleDigest,
    image: f.image,
    config: effectiveConfig(f.config, f.family),
  };
}
