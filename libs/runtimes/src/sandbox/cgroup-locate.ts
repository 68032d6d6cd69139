import { readFileSync } from 'fs';
import * as path from 'path';
import { CgroupUnavailableError, CgroupVersion } from './cgroup-types';

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
export function locateCgroups(
  procCgroup = readFileSync('/proc/self/cgroup', 'utf8'),
  mountInfo = readFileSync('/proc/self/mountinfo', 'utf8'),
): CgroupLocation {
  const mounts = parseMountInfo(mountInfo);
  const lines = procCgroup
    .split('\n')
    .filter(Boolean)
    .map((l) => {
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
