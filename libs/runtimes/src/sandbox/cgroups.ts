import { mkdirSync, readdirSync, writeFileSync } from 'fs';
import * as path from 'path';
import { CgroupLocation, locateCgroups } from './cgroup-locate';
import { pidAlive } from './host';
import { CgroupUnavailableError, CgroupVersion, WorkerCgroup } from './cgroup-types';
import { removeDir, WorkerCgroupV1, WorkerCgroupV2 } from './worker-cgroups';

export * from './cgroup-types';
export { locateCgroups } from './cgroup-locate';
export type { CgroupLocation } from './cgroup-locate';

const PARENT_PREFIX = 'hks-invoker-';

/** The invoker's parent cgroup(s); hands out one child per worker and removes everything at the end. */
export class CgroupPool {
  private readonly memoryParent: string;
  private readonly pidsParent: string;
  private readonly children = new Set<WorkerCgroup>();

  private constructor(
    readonly version: CgroupVersion,
    location: CgroupLocation,
    readonly name: string,
  ) {
    this.memoryParent = path.join(location.memoryDir, name);
    this.pidsParent = path.join(location.pidsDir, name);
  }

  /** Creates the invoker's parent cgroup; throws CgroupUnavailableError with the reason when it cannot. */
  static async create(location: CgroupLocation = locateCgroups()): Promise<CgroupPool> {
    await removeStaleParents(location);
    const name = `${PARENT_PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const pool = new CgroupPool(location.version, location, name);
    try {
      mkdirSync(pool.memoryParent);
      if (pool.pidsParent !== pool.memoryParent) mkdirSync(pool.pidsParent);
      if (location.version === 'v2') {
        enableControllers(location.memoryDir);
        enableControllers(pool.memoryParent);
      }
    } catch (err) {
      await pool.close().catch(() => undefined);
      if (err instanceof CgroupUnavailableError) throw err;
      throw new CgroupUnavailableError(`cannot create the invoker's cgroup under ${location.memoryDir}: ${(err as Error).message}`);
    }
    return pool;
  }

  worker(id: string): WorkerCgroup {
    const name = `w-${id}`;
    const cg =
      this.version === 'v1'
        ? new WorkerCgroupV1(name, path.join(this.memoryParent, name), path.join(this.pidsParent, name))
        : new WorkerCgroupV2(name, path.join(this.memoryParent, name));
    mkdirSync(path.join(this.memoryParent, name));
    if (this.version === 'v1') mkdirSync(path.join(this.pidsParent, name));
    this.children.add(cg);
    const remove = cg.remove.bind(cg);
    cg.remove = async () => {
      this.children.delete(cg);
      await remove();
    };
    return cg;
  }

  /** Kills whatever is left in the workers' cgroups and removes them and the parent. */
  async close(): Promise<void> {
    for (const child of this.children) child.killAll();
    await Promise.all([...this.children].map((c) => c.remove().catch(() => undefined)));
    await removeDir(this.memoryParent).catch(() => undefined);
    if (this.pidsParent !== this.memoryParent) await removeDir(this.pidsParent).catch(() => undefined);
  }
}

function enableControllers(dir: string): void {
  try {
    writeFileSync(path.join(dir, 'cgroup.subtree_control'), '+memory +pids');
  } catch (err) {
    throw new CgroupUnavailableError(
      `cannot delegate the memory and pids controllers below ${dir} (${(err as Error).message}); on cgroup v2 run the invoker ` +
        'in a cgroup of its own, e.g. `systemd-run --scope -p Delegate=yes`',
    );
  }
}

/** Parent cgroups of invokers that died without cleaning up (their pid is gone). */
async function removeStaleParents(location: CgroupLocation): Promise<void> {
  for (const base of new Set([location.memoryDir, location.pidsDir])) {
    let entries: string[];
    try {
      entries = readdirSync(base).filter((e) => e.startsWith(PARENT_PREFIX));
    } catch {
      continue;
    }
    for (const entry of entries) {
      const pid = Number(entry.slice(PARENT_PREFIX.length).split('-')[0]);
      if (!Number.isInteger(pid) || pidAlive(pid)) continue;
      const parent = path.join(base, entry);
      try {
        for (const child of readdirSync(parent, { withFileTypes: true })) {
          if (child.isDirectory()) await removeDir(path.join(parent, child.name)).catch(() => undefined);
        }
        await removeDir(parent);
      } catch {
        // Someone else is cleaning it up, or it is not ours to remove.
      }
    }
  }
}
