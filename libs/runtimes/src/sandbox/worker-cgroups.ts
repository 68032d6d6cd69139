import { readFileSync, rmdirSync, writeFileSync } from 'fs';
import * as path from 'path';
import { CgroupLimitError, WorkerCgroup } from './cgroup-types';

function readInt(file: string): number {
  return Number(readFileSync(file, 'utf8').trim());
}

/** "key value" lines (memory.events, memory.oom_control, pids.events) -> the value of `key`. */
function readKey(file: string, key: string): number {
  try {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export function readProcs(dir: string): number[] {
  try {
    return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function kill(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

export async function removeDir(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt >= 50) throw err;
      kill(readProcs(dir));
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function writeLimit(file: string, value: string, usage: () => number, what: string): void {
  try {
    writeFileSync(file, value);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EBUSY' || code === 'EINVAL') {
      const used = usage();
      throw new CgroupLimitError(`${what} of ${value} bytes is below what the worker already uses (${used} bytes)`, used);
    }
    throw err;
  }
}

export class WorkerCgroupV1 implements WorkerCgroup {
  constructor(
    readonly name: string,
    private readonly memory: string,
    private readonly pids: string,
  ) {}

  attach(pid: number): void {
    writeFileSync(path.join(this.memory, 'cgroup.procs'), String(pid));
    writeFileSync(path.join(this.pids, 'cgroup.procs'), String(pid));
  }

  setMemoryLimit(bytes: number): void {
    writeLimit(path.join(this.memory, 'memory.limit_in_bytes'), String(bytes), () => this.memoryUsage(), 'a memory limit');
    try {
      // With swap accounting, memory + swap gets the same cap so the limit cannot be dodged by swapping.
      writeFileSync(path.join(this.memory, 'memory.memsw.limit_in_bytes'), String(bytes));
    } catch {
      // No swap accounting on this kernel: nothing to cap.
    }
  }

  setProcessLimit(max: number): void {
    writeFileSync(path.join(this.pids, 'pids.max'), String(max));
  }

  memoryUsage(): number {
    return readInt(path.join(this.memory, 'memory.usage_in_bytes'));
  }

  taskCount(): number {
    return readInt(path.join(this.pids, 'pids.current'));
  }

  oomKills(): number {
    return readKey(path.join(this.memory, 'memory.oom_control'), 'oom_kill');
  }

  processLimitHits(): number {
    return readKey(path.join(this.pids, 'pids.events'), 'max');
  }

  procs(): number[] {
    return [...new Set([...readProcs(this.memory), ...readProcs(this.pids)])];
  }

  killAll(): void {
    kill(this.procs());
  }

  async remove(): Promise<void> {
    await removeDir(this.memory);
    await removeDir(this.pids);
  }
}

export class WorkerCgroupV2 implements WorkerCgroup {
  constructor(
    readonly name: string,
    private readonly dir: string,
  ) {}

  attach(pid: number): void {
    writeFileSync(path.join(this.dir, 'cgroup.procs'), String(pid));
  }

  setMemoryLimit(bytes: number): void {
    writeLimit(path.join(this.dir, 'memory.max'), String(bytes), () => this.memoryUsage(), 'a memory limit');
    try {
      writeFileSync(path.join(this.dir, 'memory.swap.max'), '0');
    } catch {
      // No swap controller: nothing to cap.
    }
  }

  setProcessLimit(max: number): void {
    writeFileSync(path.join(this.dir, 'pids.max'), String(max));
  }

  memoryUsage(): number {
    return readInt(path.join(this.dir, 'memory.current'));
  }

  taskCount(): number {
    return readInt(path.join(this.dir, 'pids.current'));
  }

  oomKills(): number {
    return readKey(path.join(this.dir, 'memory.events'), 'oom_kill');
  }

  processLimitHits(): number {
    return readKey(path.join(this.dir, 'pids.events'), 'max');
  }

  procs(): number[] {
    return readProcs(this.dir);
  }

  killAll(): void {
    try {
      writeFileSync(path.join(this.dir, 'cgroup.kill'), '1');
    } catch {
      kill(this.procs());
    }
  }

  async remove(): Promise<void> {
    await removeDir(this.dir);
  }
}
