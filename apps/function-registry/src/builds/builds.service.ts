import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'crypto';
import { Repository } from 'typeorm';
import {
  BuildJobData,
  BuildResultPayload,
  BuildSource,
  BuildSourceQuery,
  buildSourceDigest,
  NotFoundError,
  ValidationError,
  EventNames,
  FunctionStatus,
  FunctionView,
  isUuid,
  newEvent,
  PlatformEvent,
  StateError,
} from '@platform/contracts';
import { effectiveConfigOf, runtimeFamily } from '@platform/runtimes';
import { EventPublisher } from '@platform/messaging';
import { buildFiles, row } from '../functions/function-rules';
import { FunctionEntity } from '../functions/function.entity';
import { FunctionVersionEntity } from '../functions/function-version.entity';
import { resolvedRuntimeOf, toView } from '../functions/function-view';
import { FunctionsService, SOURCE } from '../functions/functions.service';
import { BuildQueue } from './build-queue';

/** Build fields restored when a build could not be queued, so nothing half-written is left behind. */
const BUILD_FIELDS = [
  'status',
  'statusReason',
  'buildId',
  'buildVersion',
  'buildStatus',
  'buildError',
  'buildRequestedAt',
  'buildStartedAt',
  'buildFinishedAt',
] as const;

@Injectable()
export class BuildsService {
  private readonly logger = new Logger(BuildsService.name);

  constructor(
    @InjectRepository(FunctionEntity) private readonly repo: Repository<FunctionEntity>,
    @InjectRepository(FunctionVersionEntity) private readonly versions: Repository<FunctionVersionEntity>,
    private readonly functions: FunctionsService,
    private readonly queue: BuildQueue,
    private readonly events: EventPublisher,
  ) {}

  /** Marks the current version BUILDING and queues its build job (409 when a build is already running). */
  async requestBuild(ref: string): Promise<FunctionView> {
    const f = await this.functions.find(ref);
    if (f.status === FunctionStatus.Building) throw alreadyBuilding(f);
    const buildId = randomUUID();
    const now = new Date();
    const previous = Object.fromEntries(BUILD_FIELDS.map((k) => [k, f[k]])) as Partial<FunctionEntity>;
    // Conditional, so two requests at once cannot both queue a build, and the job matches the version read.
    const claimed = await this.repo
      .createQueryBuilder()
      .update(FunctionEntity)
      .set({
        status: FunctionStatus.Building,
        statusReason: null,
        buildId,
        buildVersion: f.version,
        buildStatus: 'QUEUED',
        buildError: null,
        buildRequestedAt: now,
        buildStartedAt: null,
        buildFinishedAt: null,
      })
      .where('id = :id AND status <> :building AND version = :version', { id: f.id, building: FunctionStatus.Building, version: f.version })
      .execute();
    if (!claimed.affected) {
      const current = await this.functions.find(f.id);
      if (current.status === FunctionStatus.Building) throw alreadyBuilding(current);
      throw new StateError(`function ${f.label} changed while the build was requested; request the build again`);
    }
    // The exact runtime version is resolved once, here: the build is made for it and the version runs on it from then on.
    const source = sourceOf(f);
    // A reference only: Redis never holds a function's code; the builder asks for it (GetBuildSource).
    const data: BuildJobData = {
      buildId,
      functionId: f.id,
      label: f.label,
      version: f.version,
      sourceDigest: buildSourceDigest(source),
      requestedAt: now.toISOString(),
    };
    try {
      await this.queue.add(data);
    } catch (err) {
      await this.repo.update({ id: f.id, buildId }, row(previous));
      throw err;
    }
    // The version row follows its own builds, whatever the function moves on to meanwhile.
    await this.versions.update(
      { functionId: f.id, version: f.version },
      { buildId, buildStatus: 'QUEUED', buildError: null, runtimeVersion: source.runtimeVersion ?? null },
    );
    await this.events.publish(
      newEvent({
        name: EventNames.BuildQueued,
        type: 'FUNCTION_BUILD',
        status: 'PENDING',
        source: SOURCE,
        functionId: f.id,
        functionLabel: f.label,
        payload: { buildId, functionId: f.id, label: f.label, version: f.version },
      }),
    );
    return toView(await this.functions.find(f.id));
  }

  /** One version's code and configuration, for the builder running that version's job. */
  async buildSource(q: Partial<BuildSourceQuery>): Promise<BuildSource> {
    if (!q || !isUuid(q.functionId) || !Number.isInteger(q.version))
      throw new ValidationError('name the build source: { functionId: <uuid>, version: <number> }');
    const f = await this.repo.findOne({ where: { id: q.functionId } });
    const v = await this.versions.findOne({ where: { functionId: q.functionId, version: q.version } });
    // The runtime version recorded when the build was requested, not whatever resolves now.
    if (f && f.version === q.version) return sourceOf(f, v?.runtimeVersion);
    const family = v && runtimeFamily(v.runtime);
    if (!v || !family) throw new NotFoundError(`function ${q.functionId} has no version ${q.version}`);
    return sourceOf({ ...v, family }, v.runtimeVersion);
  }

  /** build.* from the builder. Results of a build that is no longer the latest are ignored. */
  async onBuildEvents(events: PlatformEvent[]): Promise<void> {
    for (const e of events) {
      const p = (e.payload ?? {}) as Partial<BuildResultPayload>;
      const functionId = e.functionId ?? p.functionId;
      if (!p.buildId || !functionId || !isUuid(p.buildId) || !isUuid(functionId)) {
        if (e.name !== EventNames.BuildQueued) this.logger.warn(`${e.name} ${e.id} names no build or function; ignored`);
        continue;
      }
      let applied = true;
      if (e.name === EventNames.BuildStarted) applied = await this.started(functionId, p.buildId, e.timestamp);
      else if (e.name === EventNames.BuildSucceeded && p.bundleDigest) applied = await this.finished(functionId, p, e.timestamp, null);
      else if (e.name === EventNames.BuildSucceeded)
        applied = await this.finished(functionId, p, e.timestamp, 'the build succeeded but reported no bundle digest');
      else if (e.name === EventNames.BuildFailed) applied = await this.finished(functionId, p, e.timestamp, p.error || 'the build failed without a message');
      if (!applied) this.logger.log(`${e.name} for build ${p.buildId} of ${functionId} ignored: not the latest build`);
    }
  }

  private async started(functionId: string, buildId: string, at: string): Promise<boolean> {
    await this.versions.update({ functionId, buildId, buildStatus: 'QUEUED' }, { buildStatus: 'RUNNING' });
    const rows = await this.repo.query(
      `UPDATE "registry"."functions" SET "build_status" = 'RUNNING', "build_started_at" = $3, "updated_at" = now()
       WHERE "id" = $1 AND "build_id" = $2 AND "build_status" IN ('QUEUED', 'RUNNING') RETURNING "id"`,
      [functionId, buildId, at],
    );
    return affected(rows) > 0;
  }

  /** Records the result; the function's status moves only while it is still BUILDING that version. */
  private async finished(functionId: string, p: Partial<BuildResultPayload>, at: string, error: string | null): Promise<boolean> {
    const building = `"status" = 'BUILDING' AND "build_version" = "version"`;
    await this.versions.update(
      { functionId, buildId: p.buildId },
      error
        ? { buildStatus: 'FAILED', buildError: error }
        : { buildStatus: 'SUCCEEDED', buildError: null, bundleDigest: p.bundleDigest!, image: p.image ?? null },
    );
    const rows = error
      ? await this.repo.query(
          `UPDATE "registry"."functions" SET "build_status" = 'FAILED', "build_error" = $3, "build_finished_at" = $4,
             "build_started_at" = COALESCE("build_started_at", $4),
             "status_reason" = CASE WHEN ${building} THEN $5 ELSE "status_reason" END,
             "status" = CASE WHEN ${building} THEN 'FAILED' ELSE "status" END, "updated_at" = now()
           WHERE "id" = $1 AND "build_id" = $2 RETURNING "id"`,
          [functionId, p.buildId, error, at, `build failed: ${error}`],
        )
      : await this.repo.query(
          `UPDATE "registry"."functions" SET "build_status" = 'SUCCEEDED', "build_error" = NULL, "build_finished_at" = $5,
             "build_started_at" = COALESCE("build_started_at", $5),
             "bundle_digest" = $3, "image" = $4, "built_version" = "build_version",
             "built_runtime_version" = (SELECT v."runtime_version" FROM "registry"."function_versions" v
                                         WHERE v."function_id" = "functions"."id" AND v."version" = "functions"."build_version"),
             "status_reason" = CASE WHEN ${building} THEN NULL ELSE "status_reason" END,
             "status" = CASE WHEN ${building} THEN 'BUILT' ELSE "status" END, "updated_at" = now()
           WHERE "id" = $1 AND "build_id" = $2 RETURNING "id"`,
          [functionId, p.buildId, p.bundleDigest, p.image ?? null, at],
        );
    return affected(rows) > 0;
  }
}

function sourceOf(
  f: Pick<FunctionEntity, 'template' | 'runtime' | 'family' | 'handler' | 'files' | 'entrypoint' | 'config'>,
  recordedRuntimeVersion?: string | null,
): BuildSource {
  return {
    template: f.template,
    runtime: f.runtime,
    family: f.family,
    runtimeVersion: recordedRuntimeVersion ?? resolvedRuntimeOf(f).version ?? undefined,
    files: buildFiles(f),
    entrypoint: f.entrypoint,
    config: effectiveConfigOf(f.config, f.family),
  };
}

function alreadyBuilding(f: FunctionEntity): StateError {
  return new StateError(`function ${f.label} is already building (build ${f.buildId}); wait for it to finish`);
}

/** pg's UPDATE ... RETURNING comes back from TypeORM as [rows, count]. */
function affected(result: unknown): number {
  if (Array.isArray(result) && Array.isArray(result[0])) return result[0].length;
  if (Array.isArray(result)) return result.length;
  return 0;
}
