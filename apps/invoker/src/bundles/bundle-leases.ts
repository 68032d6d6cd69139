import { promises as fs } from 'fs';
import { hostname } from 'os';
import * as path from 'path';
import { pidAlive } from '@platform/runtimes';

const LOCK_WAIT_MS = 10_000;
/** A lock folder whose owner never wrote its name (it died right after mkdir) is stale after this. */
const UNNAMED_LOCK_MS = 5_000;

/**
 * Which invoker processes use an unpacked bundle (or image), so one of them can remove it once nobody does.
 * Several invokers may share a data dir (replicas on one host, or containers sharing a volume): each
 * has a lease file `<hex>.users/<owner>`; leases change, and a bundle is removed, only under the lock
 * `<hex>.lock` (an atomic mkdir). Owners are `<host>-<pid>-<random>`: a lease or lock of a process
 * of this host that is gone is stale; those of other hosts (other pid namespaces) are never guessed at.
 */
export class BundleLeases {
  private readonly host = hostname().replace(/[^A-Za-z0-9.]/g, '_');
  readonly owner: string;

  constructor(
    private readonly dir: string,
    instance: string,
  ) {
    this.owner = `${this.host}-${instance}`;
  }

  /** Records that this process uses the bundle (before it reads or unpacks it). */
  take(hex: string): Promise<void> {
    return this.locked(hex, async () => {
      await fs.mkdir(this.users(hex), { recursive: true, mode: 0o711 });
      await fs.writeFile(path.join(this.users(hex), this.owner), '');
    });
  }

  /**
   * Drops this process's lease; when no live process holds one any more, `evict` runs (still under the
   * lock) and the leases folder goes. Resolves with whether it was evicted.
   */
  giveUp(hex: string, evict: () => Promise<void>): Promise<boolean> {
    return this.locked(hex, async () => {
      await fs.rm(path.join(this.users(hex), this.owner), { force: true });
      const others = await fs.readdir(this.users(hex)).catch(() => [] as string[]);
      let live = 0;
      for (const owner of others) {
        if (this.isStale(owner)) await fs.rm(path.join(this.users(hex), owner), { force: true });
        else live++;
      }
      if (live > 0) return false;
      await evict();
      await fs.rm(this.users(hex), { recursive: true, force: true });
      return true;
    });
  }

  /** At shutdown: this process uses none of them any more (the bundles stay for the next start). */
  async dropAll(hexes: Iterable<string>): Promise<void> {
    for (const hex of hexes) await fs.rm(path.join(this.users(hex), this.owner), { force: true });
  }

  private users(hex: string): string {
    return path.join(this.dir, `${hex}.users`);
  }

  /** An owner of this host whose process is gone (the pids of other hosts mean nothing here). */
  private isStale(owner: string): boolean {
    const m = /^(.*)-(\d+)-[0-9a-f]+$/.exec(owner);
    return !!m && m[1] === this.host && !pidAlive(Number(m[2]));
  }

  private async locked<T>(hex: string, fn: () => Promise<T>): Promise<T> {
    const lock = path.join(this.dir, `${hex}.lock`);
    const started = Date.now();
    for (;;) {
      try {
        await fs.mkdir(lock, { mode: 0o700 });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      if (await this.staleLock(lock)) {
        await fs.rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started > LOCK_WAIT_MS) throw new Error(`the lock ${lock} has been held for over ${LOCK_WAIT_MS / 1000} s`);
      await new Promise((r) => setTimeout(r, 5));
    }
    try {
      await fs.writeFile(path.join(lock, 'owner'), this.owner);
      return await fn();
    } finally {
      await fs.rm(lock, { recursive: true, force: true });
    }
  }

  private async staleLock(lock: string): Promise<boolean> {
    const owner = await fs.readFile(path.join(lock, 'owner'), 'utf8').catch(() => undefined);
    if (owner !== undefined) return this.isStale(owner);
    const stat = await fs.stat(lock).catch(() => undefined);
    return stat !== undefined && Date.now() - stat.mtimeMs > UNNAMED_LOCK_MS;
  }
}
