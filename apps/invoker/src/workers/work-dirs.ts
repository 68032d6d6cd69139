import { Inject, Injectable } from '@nestjs/common';
import { chmodSync, cpSync, mkdirSync, readdirSync, rmSync, statSync } from 'fs';
import * as path from 'path';
import { shimDir } from '@platform/runtimes';
import { SETTINGS } from '@platform/config';
import { InvokerSettingsValues } from '../settings';

/**
 * The invoker's directories: unpacked bundles, one code slot per worker, and a copy of the shims. The
 * sandbox (an unprivileged uid) must be able to reach them, so every folder on the way gets the
 * search bit for others (never read: nobody can list what is there).
 */
@Injectable()
export class WorkDirs {
  readonly root: string;
  readonly bundles: string;
  readonly slots: string;
  readonly shims: string;

  constructor(@Inject(SETTINGS) settings: InvokerSettingsValues) {
    this.root = path.resolve(settings.INVOKER_WORK_DIR || path.join(settings.HKS_DATA_DIR, 'invoker'));
    this.bundles = path.join(this.root, 'bundles');
    this.slots = path.join(this.root, 'slots');
    this.shims = path.join(this.root, 'shims');
  }

  /** Creates the directories; returns the folders whose mode had to change so the sandbox can reach its code. */
  prepare(): string[] {
    const opened: string[] = [];
    for (const dir of [this.bundles, this.slots]) mkdirSync(dir, { recursive: true, mode: 0o711 });
    // Slots of a previous run belong to workers that no longer exist.
    rmSync(this.slots, { recursive: true, force: true });
    mkdirSync(this.slots, { mode: 0o711 });
    // A private copy of the shims: the source tree may sit where the sandbox's user cannot reach.
    rmSync(this.shims, { recursive: true, force: true });
    cpSync(shimDir(), this.shims, { recursive: true, filter: (src) => !src.includes('__pycache__') });
    chmodTree(this.shims);
    for (let dir = this.root; ; dir = path.dirname(dir)) {
      const mode = statSync(dir).mode & 0o7777;
      if ((mode & 0o001) === 0) {
        chmodSync(dir, mode | 0o001);
        opened.push(dir);
      }
      if (dir === path.dirname(dir)) break;
    }
    for (const dir of [this.bundles, this.slots]) chmodSync(dir, 0o711);
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
}

function chmodTree(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) chmodTree(full);
    else chmodSync(full, 0o644);
  }
}
