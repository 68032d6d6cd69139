import { CgroupUnavailableError, locateCgroups } from './cgroups';

const V1_MOUNTS = [
  '30 25 0:26 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '31 25 0:27 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '32 25 0:28 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');

describe('finding the invoker’s cgroups', () => {
  it('uses the v1 memory and pids hierarchies named in /proc/self/cgroup', () => {
    const self = '8:pids:/\n4:memory:/process_api/abc\n0::/\n';
    expect(locateCgroups(self, V1_MOUNTS)).toEqual({ version: 'v1', memoryDir: '/sys/fs/cgroup/memory/process_api/abc', pidsDir: '/sys/fs/cgroup/pids' });
  });

  it('accounts for a hierarchy mounted from a sub-cgroup (containers)', () => {
    const mounts =
      '30 25 0:26 /docker/x /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n31 25 0:27 /docker/x /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids';
    expect(locateCgroups('4:memory:/docker/x/app\n8:pids:/docker/x\n', mounts)).toMatchObject({
      memoryDir: '/sys/fs/cgroup/memory/app',
      pidsDir: '/sys/fs/cgroup/pids',
    });
  });

  it('says what it needs when there is no usable hierarchy', () => {
    expect(() => locateCgroups('0::/\n', '32 25 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw')).toThrow(CgroupUnavailableError);
    expect(() => locateCgroups('0::/\n', '')).toThrow(/need cgroup v1 "memory" and "pids" hierarchies, or cgroup v2/);
  });
});
