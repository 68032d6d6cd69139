import { readdirSync, readFileSync } from 'fs';
import { setPriority } from 'os';

/**
 * Walks a process and all its descendants (host pids, from /proc/<pid>/task/<tid>/children), handing
 * each process to `visit` with the ids of its threads (none when it ended meanwhile). One listing of
 * /proc/<pid>/task serves both the walk and the visitor.
 */
function walkProcessTree(root: number, visit: (pid: number, tids: string[]) => void): void {
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      visit(pid, []);
      continue;
    }
    visit(pid, tids);
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
}

/** A process and all its descendants (host pids), from /proc/<pid>/task/<tid>/children. */
export function processTree(root: number): number[] {
  const out: number[] = [];
  walkProcessTree(root, (pid) => out.push(pid));
  return out;
}

/**
 * Sets the scheduling priority of every thread of a process tree. Prewarmed workers start at a low
 * priority so filling the pool never slows the invocations being served, and get the normal one back
 * when they are assigned. Best effort: raising priority again needs CAP_SYS_NICE.
 */
export function reprioritize(root: number, niceness: number): void {
  walkProcessTree(root, (_pid, tids) => {
    for (const tid of tids) {
      try {
        setPriority(Number(tid), niceness);
      } catch {
        // Not permitted (unprivileged invoker) or gone: scheduling stays as it was.
      }
    }
  });
}
