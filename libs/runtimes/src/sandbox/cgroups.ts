import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'fs';
import * as path from 'path';

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

interface Mount {
  root: string;
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

function parseMountInfo(text: string): Mount[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [left, right] = line.split(' - ');
      const f = left.split(' ');
      const r = (right ?? '').split(' ');
      return { root: unescape(f[3]), mountPoint: unescape(f[4]), fsType: r[0], superOptions: (r[2] ?? '').split(',') };
    });
}

function unescape(s: string): string {
  return (s ?? '').replace(/\\([0-7]{3})/g, (_m, o) => String.fromCharCode(parseInt(o, 8)));
}

/** Host directory of `cgPath` (from /proc/self/cgroup) in a hierarchy mounted at `m`. */
function dirFor(m: Mount, cgPath: string): string {
  const rel = path.posix.relative(m.root, cgPath);
  if (rel.startsWith('..')) throw new CgroupUnavailableError(`cgroup ${cgPath} is not visible under ${m.mountPoint}`);
  return path.join(m.mountPoint, rel);
}

export interface CgroupLocation {
  version: CgroupVersion;
  /** v1: the invoker's own memory and pids cgroup directories; v2: its unified cgroup directory. */
  memoryDir: string;
  pidsDir: string;
}

/** Finds where the invoker's own cgroups are, from /proc/self/cgroup and /proc/self/mountinfo. */
export function locateCgroups(procCgroup = readFileSync('/proc/self/cgroup', 'utf8'), mountInfo = readFileSync('/proc/self/mountinfo', 'utf8')): CgroupLocation {
  const mounts = parseMountInfo(mountInfo);
  const lines = procCgroup.split('\n').filter(Boolean).map((l) => {
    const first = l.indexOf(':');
    const second = l.indexOf(':', first + 1);
    return { controllers: l.slice(first + 1, second).split(','), path: l.slice(second + 1) };
  });
  const v1 = (controller: string) => {
    const line = lines.find((l) => l.controllers.includes(controller));
    const mount = mounts.find((m) => m.fsType === 'cgroup' && m.superOptions.includes(controller));
    return line && mount ? dirFor(mount, line.path) : undefined;
  };
  const memory = v1('memory');
  const pids = v1('pids');
  if (memory && pids) return { version: 'v1', memoryDir: memory, pidsDir: pids };
  const unified = lines.find((l) => l.controllers.length === 1 && l.controllers[0] === '');
  const mount2 = mounts.find((m) => m.fsType === 'cgroup2');
  if (unified && mount2) {
    const dir = dirFor(mount2, unified.path);
    let available: string[] = [];
    try {
      available = readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    } catch {
      available = [];
    }
    if (available.includes('memory') && available.includes('pids')) return { version: 'v2', memoryDir: dir, pidsDir: dir };
  }
  throw new CgroupUnavailableError(
    'no usable cgroup hierarchy: need cgroup v1 "memory" and "pids" hierarchies, or cgroup v2 with the memory and pids controllers delegated to this process',
  );
}

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

function readProcs(dir: string): number[] {
  try {
    return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function kill(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

async function removeDir(dir: string): Promise<void> {
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

class WorkerCgroupV1 implements WorkerCgroup {
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

class WorkerCgroupV2 implements WorkerCgroup {
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

const PARENT_PREFIX = 'hks-invoker-';

/** The invoker's parent cgroup(s); hands out one child per worker and removes everything at the end. */
export class CgroupPool {
  private readonly memoryParent: string;
  private readonly pidsParent: string;
  private readonly children = new Set<WorkerCgroup>();

  private constructor(
    readonly version: CgroupVersion,
    location: CgroupLocation,
    readonly name: string,
  ) {
    this.memoryParent = path.join(location.memoryDir, name);
    this.pidsParent = path.join(location.pidsDir, name);
  }

  /** Creates the invoker's parent cgroup; throws CgroupUnavailableError with the reason when it cannot. */
  static async create(location: CgroupLocation = locateCgroups()): Promise<CgroupPool> {
    await removeStaleParents(location);
    const name = `${PARENT_PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const pool = new CgroupPool(location.version, location, name);
    try {
      mkdirSync(pool.memoryParent);
      if (pool.pidsParent !== pool.memoryParent) mkdirSync(pool.pidsParent);
      if (location.version === 'v2') {
        enableControllers(location.memoryDir);
        enableControllers(pool.memoryParent);
      }
    } catch (err) {
      await pool.close().catch(() => undefined);
      if (err instanceof CgroupUnavailableError) throw err;
      throw new CgroupUnavailableError(`cannot create the invoker's cgroup under ${location.memoryDir}: ${(err as Error).message}`);
    }
    return pool;
  }

  worker(id: string): WorkerCgroup {
    const name = `w-${id}`;
    const cg =
      this.version === 'v1'
        ? new WorkerCgroupV1(name, path.join(this.memoryParent, name), path.join(this.pidsParent, name))
        : new WorkerCgroupV2(name, path.join(this.memoryParent, name));
    mkdirSync(path.join(this.memoryParent, name));
    if (this.version === 'v1') mkdirSync(path.join(this.pidsParent, name));
    this.children.add(cg);
    const remove = cg.remove.bind(cg);
    cg.remove = async () => {
      this.children.delete(cg);
      await remove();
    };
    return cg;
  }

  /** Kills whatever is left in the workers' cgroups and removes them and the parent. */
  async close(): Promise<void> {
    for (const child of this.children) child.killAll();
    await Promise.all([...this.children].map((c) => c.remove().catch(() => undefined)));
    await removeDir(this.memoryParent).catch(() => undefined);
    if (this.pidsParent !== this.memoryParent) await removeDir(this.pidsParent).catch(() => undefined);
  }
}

function enableControllers(dir: string): void {
  try {
    writeFileSync(path.join(dir, 'cgroup.subtree_control'), '+memory +pids');
  } catch (err) {
    throw new CgroupUnavailableError(
      `cannot delegate the memory and pids controllers below ${dir} (${(err as Error).message}); on cgroup v2 run the invoker ` +
        'in a cgroup of its own, e.g. `systemd-run --scope -p Delegate=yes`',
    );
  }
}

/** Parent cgroups of invokers that died without cleaning up (their pid is gone). */
async function removeStaleParents(location: CgroupLocation): Promise<void> {
  for (const base of new Set([location.memoryDir, location.pidsDir])) {
    let entries: string[];
    try {
      entries = readdirSync(base).filter((e) => e.startsWith(PARENT_PREFIX));
    } catch {
      continue;
    }
    for (const entry of entries) {
      const pid = Number(entry.slice(PARENT_PREFIX.length).split('-')[0]);
      if (!Number.isInteger(pid) || pidAlive(pid)) continue;
      const parent = path.join(base, entry);
      try {
        for (const child of readdirSync(parent, { withFileTypes: true })) {
          if (child.isDirectory()) await removeDir(path.join(parent, child.name)).catch(() => undefined);
        }
        await removeDir(parent);
      } catch {
        // Someone else is cleaning it up, or it is not ours to remove.
      }
    }
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
