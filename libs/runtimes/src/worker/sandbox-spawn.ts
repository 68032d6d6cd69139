import { ChildProcess, spawn } from 'child_process';
import type { Readable, Writable } from 'stream';
import { sandboxArgs } from '../sandbox/bwrap';
import { EGRESS_HOSTS, EGRESS_RESOLV_CONF } from '../sandbox/slirp';
import type { SandboxOptions, WorkerStartOptions } from './worker-types';

/**
 * Starts bwrap for a worker (protocol socket on fd 3). bwrap reports the sandbox's first process on
 * fd 4 and waits on fd 5: `onPid` runs then (cgroups, priority, network) and returns whether the
 * sandbox may go on; only then does the runtime start. A sandbox with egress reads its
 * /etc/resolv.conf and /etc/hosts from fds 6 and 7.
 */
export function spawnSandboxed(o: WorkerStartOptions & { sandbox: SandboxOptions }, onPid: (pid: number) => boolean): ChildProcess {
  const args = sandboxArgs({
    family: o.family,
    codeDir: o.codeDir,
    shimRoot: o.shimRoot,
    rootfs: o.rootfs,
    runtimeBin: o.runtimeBin,
    runtimePrefixSource: o.runtimePrefixSource,
    egress: o.egress,
    uid: o.sandbox.uid,
    gid: o.sandbox.gid,
    debugDir: o.debugDir,
    infoFd: 4,
    blockFd: 5,
    ...(o.egress ? { resolvConfFd: 6, hostsFd: 7 } : {}),
  });
  const child = spawn(o.sandbox.bwrapPath, args, {
    env: {},
    stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe', ...(o.egress ? (['pipe', 'pipe'] as const) : [])],
    uid: o.sandbox.runAs?.uid,
    gid: o.sandbox.runAs?.gid,
  });
  const fds = child.stdio as unknown as Array<Readable & Writable>;
  const [info, release] = [fds[4], fds[5]];
  if (o.egress) {
    fds[6].on('error', () => undefined).end(EGRESS_RESOLV_CONF);
    fds[7].on('error', () => undefined).end(EGRESS_HOSTS);
  }
  let text = '';
  let reported = false;
  info.on('data', (chunk: Buffer) => {
    if (reported) return;
    text += chunk.toString('utf8');
    let pid: number;
    try {
      pid = JSON.parse(text)['child-pid'];
    } catch {
      return; // Not all of it yet.
    }
    reported = true;
    if (onPid(pid)) release.end('go');
  });
  info.on('error', () => undefined);
  release.on('error', () => undefined);
  return child;
}
