import { readFileSync } from 'fs';
import { processTree, type WorkerProcess } from '@platform/runtimes';

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (100 on every architecture Node runs on). */
const CLOCK_TICKS_PER_SECOND = 100;
const MiB = 1024 * 1024;
const PAGE_BYTES = 4096;

/** CPU time (s) and resident memory (bytes) of one process, from /proc/<pid>/stat; undefined once it is gone. */
function processStat(pid: number): { cpuSeconds: number; rssBytes: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces: the fields that follow start after its closing parenthesis.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) and 24 (rss, in pages), counted from field 3.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND, rssBytes: Number(fields[21]) * PAGE_BYTES };
}

/** A worker's usage at one moment: CPU time of its whole process tree, and its memory (its cgroup's, else RSS). */
export interface UsageSample {
  cpuSeconds: number;
  memoryMiB: number;
  at: number;
}

export function sampleWorker(worker: WorkerProcess, now: number): UsageSample | undefined {
  if (worker.sandboxPid === undefined) return undefined;
  let cpuSeconds = 0;
  let rssBytes = 0;
  for (const pid of processTree(worker.sandboxPid)) {
    const s = processStat(pid);
    if (!s) continue;
    cpuSeconds += s.cpuSeconds;
    rssBytes += s.rssBytes;
  }
  let memoryBytes = rssBytes;
  try {
    if (worker.cgroup) memoryBytes = worker.cgroup.memoryUsage();
  } catch {
    // The cgroup went with the worker: RSS is what is left to say.
  }
  return { cpuSeconds, memoryMiB: memoryBytes / MiB, at: now };
}

/** CPU % of one core between two samples of the same worker (0 when no time passed). */
export function cpuPercent(before: UsageSample, after: UsageSample): number {
  const wall = (after.at - before.at) / 1000;
  if (wall <= 0) return 0;
  return Math.max(0, ((after.cpuSeconds - before.cpuSeconds) / wall) * 100);
}
