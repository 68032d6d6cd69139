/**
 * Per-worker memory and process limits through cgroups. One parent per invoker process under the
 * invoker's own cgroup (found from /proc/self/cgroup), one child per worker. cgroup v1 (memory + pids
 * hierarchies) and v2 (unified) are both supported; which one is what the machine mounts.
 */
export type CgroupVersion = 'v1' | 'v2';

export class CgroupUnavailableError extends Error {}

/** Writing a limit below what the worker already uses fails: the message says both figures. */
export class CgroupLimitError extends Error {
  constructor(
    message: string,
    readonly usageBytes: number,
  ) {
    super(message);
  }
}

export interface WorkerCgroup {
  readonly name: string;
  /** Moves a process (all its threads) into the worker's cgroups. */
  attach(pid: number): void;
  setMemoryLimit(bytes: number): void;
  setProcessLimit(max: number): void;
  memoryUsage(): number;
  /** Processes and threads in the cgroup now. */
  taskCount(): number;
  /** How many times the kernel's OOM killer fired in this cgroup. */
  oomKills(): number;
  /** How many forks the process limit refused. */
  processLimitHits(): number;
  procs(): number[];
  /** SIGKILL to everything still in the cgroup. */
  killAll(): void;
  /** Removes the cgroup once it is empty (retries briefly while the kernel reaps the processes). */
  remove(): Promise<void>;
}
