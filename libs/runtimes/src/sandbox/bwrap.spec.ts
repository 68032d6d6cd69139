import { sandboxArgs } from './bwrap';

describe('sandbox command line', () => {
  const base = { family: 'node' as const, codeDir: '/data/slots/abc', shimRoot: '/data/shims', runtimeBin: '/usr/bin/node', uid: 65534, gid: 65534 };

  const pairs = (args: string[], flag: string) => args.flatMap((a, i) => (a === flag ? [[args[i + 1], args[i + 2]]] : []));

  it('isolates the worker: own user, pid, ipc, uts and network namespaces, no capabilities, a cleared environment', () => {
    const args = sandboxArgs({ ...base, egress: false });
    for (const flag of [
      '--unshare-user',
      '--unshare-pid',
      '--unshare-ipc',
      '--unshare-uts',
      '--unshare-net',
      '--disable-userns',
      '--die-with-parent',
      '--new-session',
      '--clearenv',
    ]) {
      expect(args).toContain(flag);
    }
    expect(args.slice(args.indexOf('--cap-drop'), args.indexOf('--cap-drop') + 2)).toEqual(['--cap-drop', 'ALL']);
    expect(args.slice(args.indexOf('--uid'), args.indexOf('--uid') + 2)).toEqual(['--uid', '65534']);
    expect(
      pairs(args, '--setenv')
        .map(([k]) => k)
        .sort(),
    ).toEqual(['HOME', 'LANG', 'PATH', 'TMPDIR']);
  });

  it('binds only /usr, the shims and SDKs of the runtimes and the code, read-only, with a private /tmp, and makes / read-only', () => {
    const args = sandboxArgs({ ...base, egress: false });
    expect(pairs(args, '--bind')).toEqual([]);
    expect(pairs(args, '--ro-bind')).toEqual(
      expect.arrayContaining([
        ['/usr', '/usr'],
        ['/data/shims', '/hks/runtimes'],
        ['/data/slots/abc', '/code'],
      ]),
    );
    expect(args).toContain('--tmpfs');
    expect(args.indexOf('--remount-ro')).toBeLessThan(args.indexOf('--'));
    expect(pairs(args, '--ro-bind-try').map(([src]) => src)).toEqual(['/etc/localtime']);
  });

  it("gives a function with egress its own network namespace too, with its own resolv.conf and hosts and the host's certificates", () => {
    const args = sandboxArgs({ ...base, egress: true, resolvConfFd: 6, hostsFd: 7 });
    expect(args).toContain('--unshare-net');
    expect(pairs(args, '--ro-bind-data')).toEqual([
      ['6', '/etc/resolv.conf'],
      ['7', '/etc/hosts'],
    ]);
    const fromHost = pairs(args, '--ro-bind-try').map(([src]) => src);
    expect(fromHost).toEqual(expect.arrayContaining(['/etc/ssl', '/etc/ca-certificates', '/etc/nsswitch.conf']));
    expect(fromHost).not.toContain('/etc/resolv.conf');
    expect(fromHost).not.toContain('/etc/hosts');
    expect(args.indexOf('--ro-bind-data')).toBeLessThan(args.indexOf('--remount-ro'));
  });

  it('refuses a sandbox with egress whose resolv.conf and hosts have no source', () => {
    expect(() => sandboxArgs({ ...base, egress: true })).toThrow('a sandbox with egress needs resolvConfFd and hostsFd');
  });

  it('runs the shim in worker mode, python isolated from the environment (-I) and without bytecode files (-B)', () => {
    const node = sandboxArgs({ ...base, egress: false, infoFd: 4, blockFd: 5 });
    expect(node.slice(node.indexOf('--'))).toEqual(['--', '/usr/bin/node', '/hks/runtimes/node/shim/index.js', '--worker']);
    expect(node.slice(node.indexOf('--info-fd'), node.indexOf('--info-fd') + 4)).toEqual(['--info-fd', '4', '--block-fd', '5']);
    const py = sandboxArgs({ ...base, family: 'python', runtimeBin: '/usr/bin/python3', egress: false });
    expect(py.slice(py.indexOf('--'))).toEqual(['--', '/usr/bin/python3', '-I', '-B', '/hks/runtimes/python/shim/main.py', '--worker']);
  });

  it('gives a debug worker its folder read-write at /hks/debug and names it in HKS_DEBUG_DIR; no other worker gets either', () => {
    const args = sandboxArgs({ ...base, egress: false, debugDir: '/data/run/1/debug/s1' });
    expect(pairs(args, '--bind')).toEqual([['/data/run/1/debug/s1', '/hks/debug']]);
    expect(pairs(args, '--setenv')).toContainEqual(['HKS_DEBUG_DIR', '/hks/debug']);
    // Bound before / is made read-only, which leaves mounts below it as they are.
    expect(args.indexOf('--bind')).toBeLessThan(args.indexOf('--remount-ro'));
    expect(pairs(sandboxArgs({ ...base, egress: false }), '--setenv').map(([k]) => k)).not.toContain('HKS_DEBUG_DIR');
  });
});
