import type { NetworkInterfaceInfo } from 'os';
import { DEFAULT_EGRESS_DENY, denyRoutes, EGRESS_RESOLV_CONF, egressNetwork, EgressUnavailableError, parseDenyList, slirpArgs } from './slirp';

describe('egress network', () => {
  describe('deny list', () => {
    it('accepts "host", addresses and CIDRs, normalised to the network address', () => {
      expect(parseDenyList(' host, 169.254.0.0/16 ,10.1.2.3, 192.168.7.9/24,')).toEqual(['host', '169.254.0.0/16', '10.1.2.3/32', '192.168.7.0/24']);
      expect(parseDenyList('')).toEqual([]);
    });

    it('names the entry that is neither "host" nor an IPv4 CIDR', () => {
      expect(() => parseDenyList('host,localhost')).toThrow('"localhost" is neither "host" nor an IPv4 address or CIDR (like 10.1.0.0/16)');
      expect(() => parseDenyList('10.0.0.256')).toThrow('"10.0.0.256" is neither');
      expect(() => parseDenyList('10.1.0.0/33')).toThrow('"10.1.0.0/33" is neither');
      expect(() => parseDenyList('fd00::/8')).toThrow('"fd00::/8" is neither');
    });

    it("refuses ranges that would cut the sandbox off slirp4netns's own gateway and DNS", () => {
      expect(() => parseDenyList('10.0.0.0/8')).toThrow('"10.0.0.0/8" overlaps 10.0.2.0/24');
      expect(() => parseDenyList('10.0.2.3')).toThrow('overlaps 10.0.2.0/24');
      expect(parseDenyList('10.0.3.0/24')).toEqual(['10.0.3.0/24']);
    });

    it('expands "host" to every non-loopback IPv4 address of this machine', () => {
      const nic = (address: string, family: 'IPv4' | 'IPv6', internal = false) => ({ address, family, internal }) as NetworkInterfaceInfo;
      const interfaces = {
        lo: [nic('127.0.0.1', 'IPv4', true), nic('::1', 'IPv6', true)],
        eth0: [nic('192.0.2.2', 'IPv4'), nic('fe80::1', 'IPv6')],
        docker0: [nic('172.17.0.1', 'IPv4')],
      };
      expect(denyRoutes(['host', '169.254.0.0/16', '172.17.0.1/32'], interfaces)).toEqual(['192.0.2.2/32', '172.17.0.1/32', '169.254.0.0/16']);
      expect(denyRoutes([], interfaces)).toEqual([]);
    });

    it('keeps this machine and cloud metadata services out by default', () => {
      expect(parseDenyList(DEFAULT_EGRESS_DENY.join(','))).toEqual(['host', '169.254.0.0/16']);
    });
  });

  it("attaches slirp4netns to the sandbox's pid without the host's loopback, sandboxed, signalling readiness and dying with its parent", () => {
    const args = slirpArgs(4242);
    expect(args).toEqual(
      expect.arrayContaining(['--configure', '--disable-host-loopback', '--enable-sandbox', '--enable-seccomp', '--ready-fd=3', '--exit-fd=4']),
    );
    expect(args.slice(-2)).toEqual(['4242', 'tap0']);
    expect(EGRESS_RESOLV_CONF).toBe('nameserver 10.0.2.3\n');
  });

  it('says which package to install when slirp4netns is missing', () => {
    const missing = () => egressNetwork({ deny: [], slirp4netns: '/nonexistent/slirp4netns' });
    expect(missing).toThrow(EgressUnavailableError);
    expect(missing).toThrow(
      'slirp4netns is not installed (no executable at /nonexistent/slirp4netns): functions with network egress get their network through it (apt-get install slirp4netns)',
    );
  });
});
