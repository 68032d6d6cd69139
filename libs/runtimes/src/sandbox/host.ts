import { accessSync, constants } from 'fs';

/** Whether a process of this pid namespace is running (one of another user's counts: EPERM). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The first of `candidates` that is an executable file, if any (unset entries are skipped). */
export function firstExecutable(candidates: Array<string | undefined>): string | undefined {
  for (const c of candidates) {
    if (!c) continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // Try the next place.
    }
  }
  return undefined;
}
