import { Inject, Injectable } from '@nestjs/common';
import { chmodSync, mkdirSync, readdirSync, rmSync, statSync } from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { copyRuntimes, pidAlive } from '@platform/runtimes';
import { SETTINGS } from '@platform/config';
import { InvokerSettingsValues } from '../settings';

/**
 * The invoker's directories. Unpacked bundles are shared by digest (several invokers on one machine may
 * use the same data dir); code slots (one per worker) and the copy of the shims belong to this process
 * (`run/<pid>-<random>`), removed at shutdown, or at the next start once the process is gone. The
 * sandbox (an unprivileged uid) must reach them, so every folder on the way gets the search bit for
 * others (never read: nobody can list what is there).
 */
@Injectable()
export class WorkDirs {
  readonly root: string;
  readonly bundles: string;
  readonly run: string;
  readonly instance: string;
  readonly slots: string;
  readonly shims: string;

  constructor(@Inject(SETTINGS) settings: InvokerSettingsValues) {
    this.root = path.resolve(settings.INVOKER_WORK_DIR || path.join(settings.HKS_DATA_DIR, 'invoker'));
    this.bundles = path.join(this.root, 'bundles');
    this.run = path.join(this.root, 'run');
    this.instance = path.join(this.run, `${process.pid}-${randomBytes(3).toString('hex')}`);
    this.slots = path.join(this.instance, 'slots');
    this.shims = path.join(this.instance, 'shims');
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
   * Makes `dir` and the folders above it searchable (o+x, not listable) for the sandbox's user, which bwrap runs as:
   * the data root, or an interpreter installed under /root (pyenv). Returns the folders whose mode changed. Only an
   * invoker running as root hands its workers to another user; otherwise they share its uid and nothing changes.
   */
  searchable(dir: string): string[] {
    const opened: string[] = [];
    if (process.getuid?.() !== 0) return opened;
    for (let d = dir; ; d = path.dirname(d)) {
      const mode = statSync(d).mode & 0o7777;
      if ((mode & 0o001) === 0) {
        chmodSync(d, mode | 0o001);
        opened.push(d);
      }
      if (d === path.dirname(d)) break;
    }
    return opened;
  }

  slot(workerId: string): string {
    const dir = path.join(this.slots, workerId);
    mkdirSync(dir, { mode: 0o755 });
    return dir;
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
