import { readdirSync, readFileSync } from 'fs';
import { setPriority } from 'os';

/** A process and all its descendants (host pids), from /proc/<pid>/task/<tid>/children. */
export function processTree(root: number): number[] {
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    out.push(pid);
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) {
          if (child.trim()) queue.push(Number(child));
        }
      } catch {
        // The thread ended meanwhile.
      }
    }
  }
  return out;
}

/**
 * Sets the scheduling priority of every thread of a process tree. Prewarmed workers start at a low
 * priority so filling the pool never slows the invocations being served, and get the normal one back
 * when they are assigned. Best effort: raising priority again needs CAP_SYS_NICE.
 */
export function reprioritize(root: number, niceness: number): void {
  for (const pid of processTree(root)) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        setPriority(Number(tid), niceness);
      } catch {
        // Not permitted (unprivileged invoker) or gone: scheduling stays as it was.
      }
    }
  }
}
