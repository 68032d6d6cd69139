import { Injectable } from '@nestjs/common';
import { Job } from 'bullmq';
import { DataSource, Repository } from 'typeorm';
import { BuildJobData, BuildView, isUuid, NotFoundError } from '@platform/contracts';
import { Build, toBuildView } from './build.entity';
import { BuildQueue } from './build-queue';

function queuedView(job: Job<BuildJobData>): BuildView {
  return {
    id: job.data.buildId ?? String(job.id),
    functionId: job.data.functionId,
    version: job.data.version,
    status: 'QUEUED',
    bundleDigest: null,
    bundleSize: null,
    image: null,
    imageDigest: null,
    inputDigest: null,
    cached: false,
    error: null,
    log: '',
    startedAt: null,
    finishedAt: null,
    createdAt: new Date(job.timestamp).toISOString(),
  };
}

/** Reads builds: rows for started builds, the queue for builds no builder has picked up yet. */
@Injectable()
export class BuildsService {
  readonly repo: Repository<Build>;

  constructor(
    readonly ds: DataSource,
    private readonly queue: BuildQueue,
  ) {
    this.repo = ds.getRepository(Build);
  }

  async get(buildId: string): Promise<BuildView> {
    const row = await this.repo.findOne({ where: { id: buildId } });
    if (row) return toBuildView(row);
    const job = await this.queue.waitingJob(buildId);
    if (job) return queuedView(job);
    throw new NotFoundError(`build ${buildId} does not exist`);
  }

  /** A function's builds (by id or label), newest first, queued ones included. */
  async listForFunction(idOrLabel: string, limit = 50): Promise<BuildView[]> {
    const where = isUuid(idOrLabel) ? [{ functionId: idOrLabel }, { label: idOrLabel }] : [{ label: idOrLabel }];
    const rows = await this.repo.find({ where, order: { createdAt: 'DESC', id: 'DESC' }, take: limit });
    const known = new Set(rows.map((r) => r.id));
    const queued = (await this.queue.waitingJobsOf(idOrLabel)).filter((j) => !known.has(j.data.buildId ?? String(j.id))).map(queuedView);
    return [...queued, ...rows.map(toBuildView)].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0)).slice(0, limit);
  }
}
