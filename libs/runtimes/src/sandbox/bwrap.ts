import { lstatSync, readlinkSync, realpathSync } from 'fs';
import * as path from 'path';
import type { RuntimeFamily } from '@platform/contracts';
import { runtimeDescriptor } from '../catalog';
import type { ShimMode } from '../descriptor';
import { firstExecutable } from './host';
import { hostProgram, imageRootMounts } from './image-root';

/** Where things appear inside a sandbox. */
export const SANDBOX_CODE_DIR = '/code';
/** The runtimes' shims and SDKs: <name>/shim, <name>/sdk (copyRuntimes). */
export const SANDBOX_RUNTIMES_DIR = '/hks/runtimes';
/** A debug worker's own writable folder, where its shim puts the inspector's unix socket (HKS_DEBUG_DIR). */
export const SANDBOX_DEBUG_DIR = '/hks/debug';

/** Environment every sandboxed runtime starts with; the function's own variables are added when it loads. */
export const SANDBOX_BASE_ENV: Record<string, string> = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: '/tmp',
  TMPDIR: '/tmp',
  LANG: 'C.UTF-8',
};

/**
 * Host files a worker with network egress needs to resolve names and verify TLS certificates. Its
 * /etc/resolv.conf and /etc/hosts are its own (slirp4netns's DNS; no names of the host's network).
 */
const EGRESS_ETC = ['/etc/nsswitch.conf', '/etc/host.conf', '/etc/gai.conf', '/etc/ssl', '/etc/ca-certificates', '/etc/pki'];

export interface SandboxLayout {
  family: RuntimeFamily;
  /** Host directory bound read-only at /code. */
  codeDir: string;
  /** Host directory holding the runtimes' shims and SDKs (copyRuntimes: <name>/shim ...), bound read-only at /hks/runtimes. */
  shimRoot: string;
  /** The runtime binary (node or python3) on the host. */
  runtimeBin: string;
  /**
   * A host folder holding a copy of the runtime's prefix (runtimeBin's ../..), bound at the prefix's own path: for a
   * prefix the sandbox's user cannot reach (pyenv's under /root), whose host folders are never chmod-ed.
   */
  runtimePrefixSource?: string;
  egress: boolean;
  /** With egress: fds the contents of the sandbox's /etc/resolv.conf and /etc/hosts are read from. */
  resolvConfFd?: number;
  hostsFd?: number;
  /** uid/gid inside the sandbox (the user namespace maps it to the uid bwrap runs as). */
  uid: number;
  gid: number;
  /**
   * An image's unpacked rootfs, bound read-only as / instead of the host's /usr: no /code (the image's files are its
   * code); the runtime comes from the host, under /hks/host (image-root.ts).
   */
  rootfs?: string;
  /**
   * A debug worker: this host folder is bound read-write at /hks/debug and HKS_DEBUG_DIR names it, so the shim opens
   * the inspector (on the sandbox's own loopback) and relays it to a unix socket there, which the invoker reaches.
   */
  debugDir?: string;
  /** bwrap writes {"child-pid": N} here, then waits on blockFd until the caller has set up cgroups. */
  infoFd?: number;
  blockFd?: number;
}

/** Host paths that are symlinks into /usr on merged-/usr systems (/bin -> usr/bin ...), else bound as is. */
function rootLinks(): string[] {
  const args: string[] = [];
  for (const dir of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    let stat;
    try {
      stat = lstatSync(dir);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir);
    else if (stat.isDirectory()) args.push('--ro-bind', dir, dir);
  }
  return args;
}

let cachedRootLinks: string[] | undefined;

/** A runtime installed outside /usr (nvm, pyenv ...) needs its own prefix bound read-only (from a copy, when given one). */
function runtimePrefix(runtimeBin: string, source?: string): string[] {
  const real = realpathSync(runtimeBin);
  if (real.startsWith('/usr/')) return [];
  const prefix = path.dirname(path.dirname(real));
  return ['--ro-bind', source ?? prefix, prefix];
}

/**
 * The bwrap command line of a worker: its own user (unprivileged uid), pid, ipc, uts, cgroup and
 * network namespaces (with egress, slirp4netns is attached to the latter: see slirp.ts); no
 * capabilities; no nested user namespaces; only /usr (and the root links into it), the shims and the
 * function's code, all read-only; a private /proc, /dev and tmpfs /tmp; an environment holding only
 * PATH/HOME/TMPDIR/LANG. The root itself is read-only.
 */
export function sandboxArgs(o: SandboxLayout): string[] {
  cachedRootLinks ??= rootLinks();
  if (o.egress && (o.resolvConfFd === undefined || o.hostsFd === undefined)) throw new Error('a sandbox with egress needs resolvConfFd and hostsFd');
  const env = Object.entries(SANDBOX_BASE_ENV).flatMap(([k, v]) => ['--setenv', k, v]);
  for (const [k, v] of Object.entries(runtimeDescriptor(o.family).worker.env ?? {})) env.push('--setenv', k, v);
  if (o.debugDir) env.push('--setenv', 'HKS_DEBUG_DIR', SANDBOX_DEBUG_DIR);
  const args = [
    ...isolation(o),
    ...env,
    ...(o.rootfs ? imageMounts(o) : hostMounts(o)),
    ...(o.debugDir ? ['--bind', o.debugDir, SANDBOX_DEBUG_DIR] : []),
    '--remount-ro',
    '/',
    ...(o.infoFd !== undefined ? ['--info-fd', String(o.infoFd)] : []),
    ...(o.blockFd !== undefined ? ['--block-fd', String(o.blockFd)] : []),
    '--',
    ...(o.rootfs
      ? [...hostProgram(o.runtimeBin).argv, ...runtimeCommand(o.family, o.runtimeBin, SANDBOX_RUNTIMES_DIR, 'worker').slice(1)]
      : runtimeCommand(o.family, o.runtimeBin, SANDBOX_RUNTIMES_DIR, 'worker')),
  ];
  return args;
}

/** Namespaces, user and capabilities: the same for every worker. */
function isolation(o: SandboxLayout): string[] {
  return [
    '--unshare-user',
    '--uid',
    String(o.uid),
    '--gid',
    String(o.gid),
    '--disable-userns',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--unshare-net',
    '--hostname',
    'function',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--clearenv',
  ];
}

/** The host's /usr (and the root links into it), the runtime, the shims, and the function's code at /code. */
function hostMounts(o: SandboxLayout): string[] {
  return [
    '--ro-bind',
    '/usr',
    '/usr',
    ...(cachedRootLinks ??= rootLinks()),
    ...runtimePrefix(o.runtimeBin, o.runtimePrefixSource),
    ...(runtimeDescriptor(o.family).worker.hostPaths?.(o.runtimeBin) ?? []).flatMap((p) => ['--ro-bind-try', p, p]),
    '--ro-bind-try',
    '/etc/localtime',
    '/etc/localtime',
    ...(o.egress
      ? [
          ...EGRESS_ETC.flatMap((p) => ['--ro-bind-try', p, p]),
          '--ro-bind-data',
          String(o.resolvConfFd),
          '/etc/resolv.conf',
          '--ro-bind-data',
          String(o.hostsFd),
          '/etc/hosts',
        ]
      : []),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/tmp',
    '--ro-bind',
    o.shimRoot,
    SANDBOX_RUNTIMES_DIR,
    '--ro-bind',
    o.codeDir,
    SANDBOX_CODE_DIR,
    '--chdir',
    SANDBOX_CODE_DIR,
  ];
}

/** An image's rootfs as /, the host's runtime under /hks/host, the shims; with egress, the sandbox's own DNS and hosts. */
function imageMounts(o: SandboxLayout): string[] {
  return [
    ...imageRootMounts(o.rootfs as string, o.shimRoot, SANDBOX_RUNTIMES_DIR, hostProgram(o.runtimeBin)),
    ...(o.egress ? ['--ro-bind-data', String(o.resolvConfFd), '/etc/resolv.conf', '--ro-bind-data', String(o.hostsFd), '/etc/hosts'] : []),
  ];
}

/** The command line of a runtime's shim in a mode, `root` being where the runtimes' folders are (copyRuntimes). */
export function runtimeCommand(family: RuntimeFamily, runtimeBin: string, root: string, mode: ShimMode): string[] {
  return runtimeDescriptor(family).worker.command(runtimeBin, path.posix.join(root, family), mode);
}

/** The bwrap binary, or undefined when bubblewrap is not installed. */
export function findBwrap(candidates = [process.env.HKS_BWRAP, '/usr/bin/bwrap', '/usr/local/bin/bwrap', '/bin/bwrap']): string | undefined {
  return firstExecutable(candidates);
}
