import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'crypto';
import { DataSource, In, IsNull, Not, Repository } from 'typeorm';
import { DeploymentDriverName, DeploymentStatus, FunctionRuntimeSpec, isUuid, NO_ROUTING, StateError } from '@platform/contracts';
import { Deployment } from './deployment.entity';

export interface BeginResult {
  deployment: Deployment;
  /** The deployment it replaces (now DELETED), if there was one. */
  previous: Deployment | null;
}

/** The deployments table: every state change is one conditional UPDATE, so two writers never undo each other. */
@Injectable()
export class DeploymentStore {
  private readonly repo: Repository<Deployment>;

  constructor(@InjectDataSource() private readonly ds: DataSource) {
    this.repo = ds.getRepository(Deployment);
  }

  /**
   * Starts a deployment: the function's current deployment (if any) is marked DELETED and a new DEPLOYING row
   * inserted, under a per-function lock. A deployment still DEPLOYING whose lease is alive (renewed within
   * `leaseMs`, by the database's clock) refuses a second one.
   */
  async begin(
    spec: FunctionRuntimeSpec,
    driver: DeploymentDriverName,
    env: Record<string, string> | null,
    leaseMs: number,
    carry: (previous: Deployment | null) => Pick<Deployment, 'versions' | 'routing'> = () => ({ versions: [], routing: { ...NO_ROUTING } }),
  ): Promise<BeginResult> {
    return this.ds.transaction(async (em) => {
      await em.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`deployer:${spec.functionId}`]);
      const repo = em.getRepository(Deployment);
      const previous = await repo.findOne({ where: { functionId: spec.functionId, status: Not('DELETED') } });
      const id = randomUUID();
      if (previous) {
        if (previous.status === 'DEPLOYING' && (await this.leaseAlive(previous.id, leaseMs, em.getRepository(Deployment)))) {
          throw new StateError(`function ${spec.label} is already being deployed (deployment ${previous.id}); wait for it to finish and try again`);
        }
      }
      // What the new one keeps of the old (aliases, and the versions they name): read before the old one goes.
      const carried = carry(previous?.status === 'READY' ? previous : null);
      if (previous) {
        await repo.update({ id: previous.id }, { status: 'DELETED', reason: `replaced by deployment ${id}` });
        previous.status = 'DELETED';
      }
      const deployment = repo.create({
        id,
        functionId: spec.functionId,
        label: spec.label,
        version: spec.version,
        driver,
        status: 'DEPLOYING',
        bundleDigest: spec.bundleDigest,
        image: spec.image,
        url: null,
        reason: null,
        spec,
        env,
        ...carried,
        canary: null,
        servedAt: null,
      });
      await repo.save(deployment);
      return { deployment: await repo.findOneByOrFail({ id }), previous };
    });
  }

  /** Moves a deployment on, only from the states given; returns the row as it is now (null if it was not there). */
  async transition(
    id: string,
    from: DeploymentStatus[],
    to: DeploymentStatus,
    fields: { url?: string | null; reason?: string | null } = {},
  ): Promise<Deployment | null> {
    await this.repo.update({ id, status: In(from) }, { status: to, ...fields });
    return this.repo.findOneBy({ id });
  }

  /** READY for the first time: from now on it is a version that served (what rollback goes back to). */
  async markServed(id: string): Promise<void> {
    await this.repo.query(`UPDATE "deployer"."deployments" SET "served_at" = COALESCE("served_at", now()) WHERE "id" = $1`, [id]);
  }

  /**
   * A new deployment failed: it is set aside (DELETED, its reason kept) and the one it replaced serves again, as it
   * did before. Only while nothing else replaced that one meanwhile.
   */
  async restore(failedId: string, previousId: string, reason: string): Promise<Deployment | null> {
    return this.ds.transaction(async (em) => {
      const repo = em.getRepository(Deployment);
      const failed = await repo.findOneBy({ id: failedId });
      if (!failed) return null;
      await em.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`deployer:${failed.functionId}`]);
      const current = await repo.findOne({ where: { functionId: failed.functionId, status: Not('DELETED') } });
      if (current && current.id !== failedId) return null;
      await repo.update({ id: failedId }, { status: 'DELETED', reason });
      const back = await repo.update({ id: previousId, status: 'DELETED' }, { status: 'READY', reason: null });
      return back.affected ? repo.findOneBy({ id: previousId }) : null;
    });
  }

  /** The newest deployment that served a version other than `notVersion`: the one to roll back to. */
  previousServed(functionId: string, notVersion: number): Promise<Deployment | null> {
    return this.repo.findOne({ where: { functionId, version: Not(notVersion), servedAt: Not(IsNull()) }, order: { servedAt: 'DESC' } });
  }

  /** Replaces the routing (and the versions it runs, and the canary) only if no one changed it since `revision`. */
  async updateRouting(id: string, revision: number, fields: Pick<Deployment, 'versions' | 'routing' | 'canary'>): Promise<Deployment | null> {
    const rows = (await this.repo.query(
      `UPDATE "deployer"."deployments" SET "versions" = $3::jsonb, "routing" = $4::jsonb, "canary" = $5::jsonb, "updated_at" = now()
        WHERE "id" = $1 AND "status" = 'READY' AND ("routing"->>'revision')::int = $2 RETURNING "id"`,
      [id, revision, JSON.stringify(fields.versions), JSON.stringify(fields.routing), fields.canary ? JSON.stringify(fields.canary) : null],
    )) as [unknown[], number] | unknown[];
    const changed = Array.isArray(rows[0]) ? (rows[0] as unknown[]).length : rows.length;
    return changed ? this.repo.findOneBy({ id }) : null;
  }

  /** READY deployments with a canary in progress. */
  runningCanaries(): Promise<Deployment[]> {
    return this.repo.createQueryBuilder('d').where(`d.status = 'READY'`).andWhere(`d.canary->>'state' = 'RUNNING'`).getMany();
  }

  get(id: string): Promise<Deployment | null> {
    return isUuid(id) ? this.repo.findOneBy({ id }) : Promise.resolve(null);
  }

  /** The function's current (not DELETED) deployment, by function id or label. */
  current(idOrLabel: string): Promise<Deployment | null> {
    const where = isUuid(idOrLabel) ? { functionId: idOrLabel } : { label: idOrLabel };
    return this.repo.findOne({ where: { ...where, status: Not('DELETED') }, order: { createdAt: 'DESC' } });
  }

  listReady(driver?: DeploymentDriverName): Promise<Deployment[]> {
    return this.repo.find({ where: { status: 'READY', ...(driver ? { driver } : {}) }, order: { label: 'ASC' } });
  }

  /**
   * The lease of a deployment in progress: its deployer renews it (updated_at) while it deploys. False once the
   * deployment is no longer DEPLOYING (taken over, or finished): the deployer running it stops there.
   */
  async renewLease(id: string): Promise<boolean> {
    const result = await this.repo.query(`UPDATE "deployer"."deployments" SET "updated_at" = now() WHERE "id" = $1 AND "status" = 'DEPLOYING'`, [id]);
    return affected(result) > 0;
  }

  /** Whether a DEPLOYING row's lease was renewed within `leaseMs` (the database's clock, the same for every replica). */
  async leaseAlive(id: string, leaseMs: number, repo: Repository<Deployment> = this.repo): Promise<boolean> {
    const rows = (await repo.query(
      `SELECT 1 FROM "deployer"."deployments" WHERE "id" = $1 AND "status" = 'DEPLOYING' AND "updated_at" > now() - $2::int * interval '1 millisecond'`,
      [id, leaseMs],
    )) as unknown[];
    return rows.length > 0;
  }

  /**
   * Deployments whose deployer stopped renewing their lease (it died, or lost the database, mid-deploy): marked
   * FAILED with `reason` by one UPDATE, so of several deployers looking at once exactly one takes each over.
   */
  async claimExpired(leaseMs: number, reason: string): Promise<Deployment[]> {
    const result = (await this.repo.query(
      `UPDATE "deployer"."deployments" SET "status" = 'FAILED', "reason" = $2, "updated_at" = now()
        WHERE "status" = 'DEPLOYING' AND "updated_at" < now() - $1::int * interval '1 millisecond' RETURNING "id"`,
      [leaseMs, reason],
    )) as unknown;
    const ids = returnedRows(result).map((r) => r.id);
    return ids.length ? this.repo.find({ where: { id: In(ids) } }) : [];
  }

  /** The deployment `id` replaced when it began (DELETED since, by begin), if that one had served. */
  replacedBy(id: string): Promise<Deployment | null> {
    return this.repo.findOne({ where: { status: 'DELETED', reason: `replaced by deployment ${id}`, servedAt: Not(IsNull()) } });
  }

  async ping(): Promise<void> {
    await this.ds.query('SELECT 1');
  }
}

/** Rows changed by a raw UPDATE (pg answers [rows, count] for UPDATE ... and a plain array otherwise). */
function affected(result: unknown): number {
  if (Array.isArray(result) && result.length === 2 && typeof result[1] === 'number') return result[1];
  return Array.isArray(result) ? result.length : 0;
}

/** The rows an UPDATE ... RETURNING answered. */
function returnedRows(result: unknown): Array<{ id: string }> {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as Array<{ id: string }>;
  return Array.isArray(result) ? (result as Array<{ id: string }>) : [];
}
