import { Inject, Injectable, Logger } from '@nestjs/common';
import { promises as fs } from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { BuildInput, BuildResultPayload, EventNames, newEvent, PlatformEvent } from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { EventPublisher } from '@platform/messaging';
import {
  BuildFailure,
  BuildTools,
  bundleDirectory,
  IMAGE_FILE,
  inputDigest,
  prepareWorkspace,
  registryOptionsFor,
  ResolvedImage,
  runtimeDescriptor,
} from '@platform/runtimes';
import { ArtifactStore } from '../artifacts/artifact-store';
import { ImageBuilder, ImagePlan } from '../oci/image-builder';
import { BuilderSettingsValues } from '../settings';
import { Build } from './build.entity';
import { BuildLog } from './build-log';
import { BuildsService } from './builds.service';

/** Bumped whenever the builder's output for the same inputs changes, so old cache entries stop matching. */
export const BUILDER_VERSION = 'hks-builder/2';
const EVENT_LOG_CHARS = 64 * 1024;

export interface BuildOutcome {
  status: 'SUCCEEDED' | 'FAILED';
  cached: boolean;
  bundleDigest?: string;
  image?: string | null;
  error?: string;
}

/** A build's product: its bundle (and image), new or reused from a build with the same inputs. */
interface BuiltArtifact {
  bundleDigest: string;
  bundleSize: number | null;
  image: string | null;
  imageDigest: string | null;
  cached: boolean;
}

/** Why job data cannot be built, or undefined when it can. */
export function jobProblem(d: Partial<BuildInput>): string | undefined {
  if (!d || typeof d !== 'object') return 'the build job has no data';
  for (const key of ['buildId', 'functionId', 'label', 'template', 'runtime', 'family', 'entrypoint'] as const) {
    if (typeof d[key] !== 'string' || !d[key]) return `the build job has no ${key}`;
  }
  if (!Number.isInteger(d.version)) return 'the build job has no version';
  if (typeof d.files !== 'object' || d.files === null) return 'the build job has no files';
  if (Object.values(d.files).some((v) => typeof v !== 'string')) return 'every file in a build job must be a string';
  return undefined;
}

/**
 * Runs one build from job data to a stored bundle (and image): cache lookup by input digest,
 * template steps, deterministic tar, artifact store, OCI push; records everything in the build row
 * and announces it with build.started / build.succeeded / build.failed.
 */
@Injectable()
export class BuildRunner {
  private readonly logger = new Logger(BuildRunner.name);

  constructor(
    @Inject(SETTINGS) private readonly settings: BuilderSettingsValues,
    private readonly builds: BuildsService,
    private readonly artifacts: ArtifactStore,
    private readonly images: ImageBuilder,
    private readonly events: EventPublisher,
  ) {}

  /** `sourceProblem`: why the job's source could not be had from the registry (the build then fails with it). */
  async run(job: BuildInput, sourceProblem?: string): Promise<BuildOutcome> {
    const problem = sourceProblem ?? jobProblem(job);
    if (problem && !(job?.buildId && job?.functionId)) throw new Error(`unusable build job: ${problem}`);
    await this.begin(job);
    const started = Date.now();
    await this.events.publish(this.event(job, EventNames.BuildStarted, 'PENDING', {}));
    const log = new BuildLog(this.builds.ds, job.buildId);
    let workDir: string | undefined;
    // What the build produced; build.succeeded goes out after the try, so a failure to record it is not
    // mistaken for a failed build.
    let built: BuiltArtifact;
    try {
      if (problem) throw new BuildFailure(problem);
      // A user's own image is deployed as it is: the builder pins it (the descriptor's build) and makes none.
      const ownImage = runtimeDescriptor(job.family).image.own === true;
      const plan = this.images.enabled && !ownImage ? await this.images.plan(job, log.write) : null;
      const digest = this.inputDigestOf(job, plan);
      await this.builds.repo.update({ id: job.buildId }, { inputDigest: digest });
      const previous = await this.reusable(digest, job.buildId);
      if (previous) {
        log.write(`\n==> inputs unchanged (${digest}): reusing build ${previous.id}\n`);
        await log.close();
        built = {
          bundleDigest: previous.bundleDigest as string,
          bundleSize: previous.bundleSize,
          image: previous.image,
          imageDigest: previous.imageDigest,
          cached: true,
        };
      } else {
        workDir = path.resolve(this.settings.HKS_DATA_DIR, 'builds', `${job.buildId.replace(/[^A-Za-z0-9_-]/g, '_')}-${randomBytes(4).toString('hex')}`);
        await fs.mkdir(workDir, { recursive: true });
        await prepareWorkspace(workDir, job, log.write, this.tools());
        log.write('\n==> bundling\n');
        const bundle = await bundleDirectory(workDir);
        await this.artifacts.put(bundle.digest, bundle.tar);
        log.write(`bundle ${bundle.digest} (${bundle.size} bytes)\n`);
        const image = plan ? await this.images.build(plan, bundle.tar, log.write) : ownImage ? await pinnedImage(workDir) : null;
        log.write('\n==> build succeeded\n');
        await log.close();
        built = { bundleDigest: bundle.digest, bundleSize: bundle.size, image: image?.image ?? null, imageDigest: image?.digest ?? null, cached: false };
      }
    } catch (err) {
      const message = err instanceof BuildFailure ? err.message : `internal builder error: ${(err as Error).message}`;
      if (!(err instanceof BuildFailure)) this.logger.error(`build ${job.buildId}: ${(err as Error).stack ?? err}`);
      log.write(`\n==> build failed: ${message}\n`);
      await log.close();
      return await this.fail(job, started, message);
    } finally {
      if (workDir) await fs.rm(workDir, { recursive: true, force: true }).catch(() => undefined);
    }
    return this.succeed(job, started, built);
  }

  /** Creates the row, or resets it when BullMQ hands the same job out again after a crash. */
  private async begin(job: BuildInput): Promise<void> {
    await this.builds.ds.query(
      `INSERT INTO "builder"."builds" ("id", "function_id", "label", "version", "status", "template", "runtime", "entrypoint", "started_at")
       VALUES ($1, $2, $3, $4, 'RUNNING', $5, $6, $7, now())
       ON CONFLICT ("id") DO UPDATE SET "status" = 'RUNNING', "log" = '', "error" = NULL, "cached" = false,
         "bundle_digest" = NULL, "bundle_size" = NULL, "image" = NULL, "image_digest" = NULL, "input_digest" = NULL,
         "started_at" = now(), "finished_at" = NULL`,
      [job.buildId, job.functionId, job.label ?? '', job.version ?? 0, job.template ?? '', job.runtime ?? '', job.entrypoint ?? ''],
    );
  }

  private inputDigestOf(job: BuildInput, plan: ImagePlan | null): string {
    return inputDigest({
      builder: BUILDER_VERSION,
      template: job.template,
      runtime: job.runtime,
      family: job.family,
      entrypoint: job.entrypoint,
      files: job.files,
      runtimeVersion: job.runtimeVersion ?? null,
      // What else makes the runtime's build differ: compiler, registry, wheels ... (its descriptor says).
      tools: runtimeDescriptor(job.family).buildInputs(job, this.tools()),
      image: plan ? plan.inputs : null,
    });
  }

  /** The build tools' settings, by runtime (each descriptor's build reads its own). */
  private tools(): BuildTools {
    const s = this.settings;
    return {
      node: { registry: s.HKS_NPM_REGISTRY, timeoutMs: s.BUILD_STEP_TIMEOUT_MS },
      python: { python: s.HKS_PYTHON, wheelhouse: s.HKS_PIP_WHEELHOUSE, indexUrl: s.HKS_PIP_INDEX_URL, timeoutMs: s.BUILD_STEP_TIMEOUT_MS },
      go: { proxy: s.HKS_GOPROXY, cacheDir: s.HKS_GO_CACHE_DIR, timeoutMs: s.BUILD_STEP_TIMEOUT_MS },
      java: { timeoutMs: s.BUILD_STEP_TIMEOUT_MS },
      // A user's image on the builder's own registry is read with its credentials; any other registry without.
      image: { optionsFor: registryOptionsFor(s) },
    };
  }

  /** A finished build with the same inputs whose bundle is still stored. */
  private async reusable(digest: string, buildId: string): Promise<Build | undefined> {
    const rows = await this.builds.ds.query(
      `SELECT "id" FROM "builder"."builds" WHERE "input_digest" = $1 AND "status" = 'SUCCEEDED' AND "id" <> $2 ORDER BY "finished_at" DESC LIMIT 5`,
      [digest, buildId],
    );
    for (const { id } of rows as Array<{ id: string }>) {
      const row = await this.builds.repo.findOne({ where: { id } });
      if (row?.bundleDigest && (await this.artifacts.has(row.bundleDigest))) return row;
    }
    return undefined;
  }

  private async succeed(job: BuildInput, started: number, r: BuiltArtifact): Promise<BuildOutcome> {
    await this.builds.repo.update(
      { id: job.buildId },
      {
        status: 'SUCCEEDED',
        bundleDigest: r.bundleDigest,
        bundleSize: r.bundleSize,
        image: r.image,
        imageDigest: r.imageDigest,
        cached: r.cached,
        finishedAt: new Date(),
      },
    );
    const payload: BuildResultPayload = {
      buildId: job.buildId,
      functionId: job.functionId,
      version: job.version,
      bundleDigest: r.bundleDigest,
      image: r.image,
      cached: r.cached,
    };
    await this.events.publish(
      this.event(job, EventNames.BuildSucceeded, 'SUCCESS', {
        payload,
        processingTimeMs: Date.now() - started,
        metadata: { bundleSize: r.bundleSize, imageDigest: r.imageDigest },
      }),
    );
    return { status: 'SUCCEEDED', cached: r.cached, bundleDigest: r.bundleDigest, image: r.image };
  }

  private async fail(job: BuildInput, started: number, error: string): Promise<BuildOutcome> {
    await this.builds.repo.update({ id: job.buildId }, { status: 'FAILED', error, finishedAt: new Date() });
    const row = await this.builds.repo.findOne({ where: { id: job.buildId } });
    const fullLog = row?.log ?? '';
    const log = fullLog.length > EVENT_LOG_CHARS ? `[... truncated ...]\n${fullLog.slice(-EVENT_LOG_CHARS)}` : fullLog;
    const payload: BuildResultPayload = { buildId: job.buildId, functionId: job.functionId, version: job.version, error, log, cached: false };
    await this.events.publish(this.event(job, EventNames.BuildFailed, 'FAILURE', { payload, error, processingTimeMs: Date.now() - started }));
    return { status: 'FAILED', cached: false, error };
  }

  private event(job: BuildInput, name: string, status: PlatformEvent['status'], extra: Partial<PlatformEvent>): PlatformEvent {
    return newEvent({
      name,
      type: 'FUNCTION_BUILD',
      status,
      source: 'builder',
      functionId: job.functionId,
      functionLabel: job.label,
      payload: { buildId: job.buildId, functionId: job.functionId, version: job.version },
      ...extra,
      metadata: { buildId: job.buildId, label: job.label, ...(extra.metadata ?? {}) },
    });
  }
}

/** The image an image function's build pinned (its descriptor wrote IMAGE_FILE into the bundle). */
async function pinnedImage(dir: string): Promise<{ image: string; digest: string }> {
  const pinned = JSON.parse(await fs.readFile(path.join(dir, IMAGE_FILE), 'utf8')) as ResolvedImage;
  return { image: pinned.pinned, digest: pinned.manifestDigest };
}
