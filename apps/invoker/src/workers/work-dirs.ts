import { Inject, Injectable } from '@nestjs/common';
import { spawnSync } from 'child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'fs';
import * as path from 'path';
import { createHash, randomBytes } from 'crypto';
import { copyRuntimes, pidAlive } from '@platform/runtimes';
import { SETTINGS } from '@platform/config';
import { InvokerSettingsValues } from '../settings';

/**
 * The invoker's directories. Unpacked bundles are shared by digest (several invokers on one machine may
 * use the same data dir); code slots (one per worker) and the copy of the shims belong to this process
 * (`run/<pid>-<random>`), removed at shutdown, or at the next start once the process is gone. The
 * sandbox (an unprivileged uid) must reach them, so the folders of the data dir on the way get the search bit for
 * others (never read: nobody can list what is there). Folders above the data dir are the host's: never changed; when
 * the sandbox's user cannot pass them the invoker refuses to start, saying which. An interpreter it cannot reach
 * (pyenv's under /root) is copied into the data dir (`interpreters/`, hard links where it can) and bound from there.
 */
@Injectable()
export class WorkDirs {
  readonly root: string;
  readonly bundles: string;
  readonly run: string;
  readonly instance: string;
  readonly slots: string;
  readonly shims: string;
  readonly interpreters: string;
  /** Debug sessions' folders (one per session: the inspector's unix socket), bound read-write into their worker. */
  readonly debug: string;
  private readonly sandboxUser: { uid: number; gid: number };
  /** The platform's own folders: the data dir and the work dir, at and below which modes may be changed. */
  private readonly own: string[];

  constructor(@Inject(SETTINGS) settings: InvokerSettingsValues) {
    this.root = path.resolve(settings.INVOKER_WORK_DIR || path.join(settings.HKS_DATA_DIR, 'invoker'));
    this.own = [this.root, path.resolve(settings.HKS_DATA_DIR)];
    this.interpreters = path.join(this.root, 'interpreters');
    this.bundles = path.join(this.root, 'bundles');
    this.run = path.join(this.root, 'run');
    this.instance = path.join(this.run, `${process.pid}-${randomBytes(3).toString('hex')}`);
    this.slots = path.join(this.instance, 'slots');
    this.shims = path.join(this.instance, 'shims');
    this.debug = path.join(this.instance, 'debug');
    this.sandboxUser = { uid: settings.INVOKER_SANDBOX_UID, gid: settings.INVOKER_SANDBOX_GID };
  }

  /** Creates the directories; returns the folders whose mode had to change so the sandbox can reach its code. */
  prepare(): string[] {
    for (const dir of [this.bundles, this.run]) mkdirSync(dir, { recursive: true, mode: 0o711 });
    this.removeStale();
    mkdirSync(this.slots, { recursive: true, mode: 0o711 });
    // A private copy of the shims: the source tree may sit where the sandbox's user cannot reach.
    copyRuntimes(this.shims);
    const opened = this.searchable(this.root);
    for (const dir of [this.bundles, this.run, this.instance, this.slots]) chmodSync(dir, 0o711);
    return opened;
  }

  /**
   * Makes `dir` reachable for the sandbox's user, which bwrap runs as: the folders on the way that belong to the data
   * dir get o+x (not listable); a host folder above it is never changed, and when one lacks the bit this fails naming
   * it. Returns the folders whose mode changed. Only an invoker running as root hands its workers to another user;
   * otherwise they share its uid and nothing changes.
   */
  searchable(dir: string): string[] {
    const opened: string[] = [];
    if (process.getuid?.() !== 0) return opened;
    for (let d = path.resolve(dir); ; d = path.dirname(d)) {
      const mode = statSync(d).mode & 0o7777;
      if ((mode & 0o001) === 0) {
        if (!this.isOwn(d)) {
          throw new Error(
            `the sandboxed workers (user INVOKER_SANDBOX_UID) cannot reach ${dir}: ${d} is not searchable ` +
              `(mode ${mode.toString(8)}), and the invoker never changes host folders; set HKS_DATA_DIR (or INVOKER_WORK_DIR) to a folder under searchable ones`,
          );
        }
        chmodSync(d, mode | 0o001);
        opened.push(d);
      }
      if (d === path.dirname(d)) break;
    }
    return opened;
  }

  /** Whether every folder above `p` lets others pass (o+x): what a sandbox's bind of `p` needs. */
  reachable(p: string): boolean {
    for (let d = path.dirname(path.resolve(p)); ; d = path.dirname(d)) {
      if ((statSync(d).mode & 0o001) === 0) return false;
      if (d === path.dirname(d)) return true;
    }
  }

  /**
   * Where the sandbox binds an interpreter's prefix from: undefined (the prefix itself) when its user can reach it,
   * else a copy under `interpreters/` (hard links when the data dir shares the prefix's file system, else a full copy),
   * made once per prefix and binary. The host's folders keep their modes.
   */
  interpreterPrefix(prefix: string, bin: string): string | undefined {
    if (process.getuid?.() !== 0 || this.reachable(prefix)) return undefined;
    const st = statSync(bin);
    const key = createHash('sha256').update(`${prefix}\0${st.ino}\0${st.mtimeMs}`).digest('hex').slice(0, 24);
    const copy = path.join(this.interpreters, key);
    if (existsSync(copy)) return copy;
    mkdirSync(this.interpreters, { recursive: true, mode: 0o711 });
    this.searchable(this.interpreters);
    const tmp = `${copy}.tmp-${randomBytes(4).toString('hex')}`;
    let cp = spawnSync('cp', ['-al', prefix, tmp], { encoding: 'utf8' });
    if (cp.status !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      cp = spawnSync('cp', ['-a', prefix, tmp], { encoding: 'utf8' });
    }
    if (cp.status !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      throw new Error(`could not copy the interpreter ${prefix} into ${this.interpreters}: ${(cp.stderr || cp.error?.message || '').trim()}`);
    }
    chmodSync(tmp, 0o755);
    try {
      renameSync(tmp, copy);
    } catch (err) {
      // Another invoker on this data dir made the same copy first.
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(copy)) throw err;
    }
    return copy;
  }

  private isOwn(d: string): boolean {
    return this.own.some((o) => d === o || d.startsWith(o + path.sep));
  }

  slot(workerId: string): string {
    const dir = path.join(this.slots, workerId);
    mkdirSync(dir, { mode: 0o755 });
    return dir;
  }

  /**
   * A debug session's folder: only the sandbox's user may enter it (0700, its owner when the invoker runs as root and
   * hands workers to that user), so no other local user reaches the inspector's socket in it.
   */
  debugDir(sessionId: string): string {
    mkdirSync(this.debug, { recursive: true, mode: 0o711 });
    chmodSync(this.debug, 0o711);
    const dir = path.join(this.debug, sessionId);
    mkdirSync(dir, { mode: 0o700 });
    if (process.getuid?.() === 0) chownSync(dir, this.sandboxUser.uid, this.sandboxUser.gid);
    return dir;
  }

  /**
   * Once the debug worker has started (its relay listens on inspector.sock, inspector.json is written), the folder
   * becomes root's (when the invoker is root) and 0711: the sandbox, whose own code has run by then, can no longer
   * add, rename or replace its entries (a symlink in place of the socket, say) before the invoker reads them. The relay
   * needs nothing more of the folder: connections to its socket need only the socket itself.
   */
  lockDebugDir(dir: string): void {
    if (process.getuid?.() === 0) chownSync(dir, 0, 0);
    chmodSync(dir, 0o711);
  }

  removeDebugDir(sessionId: string): void {
    rmSync(path.join(this.debug, sessionId), { recursive: true, force: true });
  }

  removeSlot(workerId: string): void {
    rmSync(path.join(this.slots, workerId), { recursive: true, force: true });
  }

  /** At shutdown, once the workers are gone. */
  cleanup(): void {
    rmSync(this.instance, { recursive: true, force: true });
  }

  /** Slots and shims of invokers that are no longer running. */
  private removeStale(): void {
    for (const name of readdirSync(this.run)) {
      const pid = Number(name.split('-')[0]);
      if (Number.isInteger(pid) && pid > 0 && !pidAlive(pid)) rmSync(path.join(this.run, name), { recursive: true, force: true });
    }
  }
}
