import { ChildProcess, spawn } from 'child_process';
import { networkInterfaces } from 'os';
import type { Readable } from 'stream';
import { firstExecutable } from './host';

/**
 * Network egress for sandboxed workers. A worker always gets its own network namespace; one with
 * egress also gets user-mode networking from slirp4netns (a tap device in the namespace, whose traffic
 * slirp4netns replays through ordinary sockets of the host). In the sandbox: address 10.0.2.100,
 * gateway 10.0.2.2, DNS 10.0.2.3 (forwarded to the host's resolver).
 *
 * What the function can reach that way, and what it cannot:
 * - the host's loopback (127.0.0.0/8: Postgres, Redis, RabbitMQ, the invoker...): not at all.
 *   127.0.0.1 in the sandbox is the sandbox's own loopback, and --disable-host-loopback makes
 *   slirp4netns refuse 10.0.2.2 (its alias of the host's 127.0.0.1).
 * - the host's other addresses (eth0's 192.0.2.2, say): slirp4netns connects to them like to any
 *   remote address, so every service of the host listening on 0.0.0.0 would be reachable, and it
 *   has no option to prevent it (--outbound-addr only picks the source address; --cidr only the
 *   sandbox's own network). So the invoker adds "unreachable" routes for them (`deny`, by default
 *   every address of this machine and the link-local range of cloud metadata services) inside the
 *   sandbox's namespace, where the function, without CAP_NET_ADMIN there, cannot remove them.
 *   Addresses of *other* machines (a database on the LAN, a cluster's service IPs) stay reachable
 *   unless listed: an operator adds their CIDRs to the deny list or firewalls them.
 */
export const SLIRP_DNS = '10.0.2.3';
const SLIRP_NETWORK = { first: ipv4('10.0.2.0'), last: ipv4('10.0.2.255') };
/** slirp4netns's recommended MTU (fewer, larger segments through the user-mode TCP stack). */
const MTU = 65520;

/** Name resolution in a sandbox with egress: slirp4netns's DNS forwarder, and no host-specific names. */
export const EGRESS_RESOLV_CONF = `nameserver ${SLIRP_DNS}\n`;
export const EGRESS_HOSTS = '127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\tfunction\n';

/** What functions with egress may not reach by default: this machine's addresses and cloud metadata services (link-local). */
export const DEFAULT_EGRESS_DENY = ['host', '169.254.0.0/16'];

/** Everything a worker with egress needs; see egressNetwork(). */
export interface EgressNetwork {
  slirp4netns: string;
  nsenter: string;
  ip: string;
  /** IPv4 addresses or CIDRs the function may not reach; "host" stands for every address of this machine. */
  deny: string[];
}

/** Network egress cannot be given here; the message says what to install or change. */
export class EgressUnavailableError extends Error {}

/**
 * The tools egress needs, or why it cannot be had. `slirp4netns` overrides where slirp4netns is
 * (a path that is not executable counts as "not installed": never a silent fallback to the host network).
 */
export function egressNetwork(o: { deny: string[]; slirp4netns?: string }): EgressNetwork {
  const slirp4netns = firstExecutable(o.slirp4netns ? [o.slirp4netns] : ['/usr/bin/slirp4netns', '/usr/local/bin/slirp4netns', '/bin/slirp4netns']);
  if (!slirp4netns) {
    throw new EgressUnavailableError(
      `slirp4netns is not installed${o.slirp4netns ? ` (no executable at ${o.slirp4netns})` : ''}: functions with network egress get their network ` +
        'through it (apt-get install slirp4netns)',
    );
  }
  if (process.getuid?.() !== 0) {
    // bwrap --disable-userns leaves the sandbox's network namespace owned by a user namespace that no
    // process stays in, so an unprivileged slirp4netns has no way to join it.
    throw new EgressUnavailableError(
      "network egress in the sandbox needs root (run the invoker as root): slirp4netns must enter the worker's network namespace from the host's user namespace",
    );
  }
  const nsenter = firstExecutable(['/usr/bin/nsenter', '/bin/nsenter']);
  if (!nsenter)
    throw new EgressUnavailableError(
      'nsenter is not installed: it sets the routes that keep functions with egress off this machine (apt-get install util-linux)',
    );
  const ip = firstExecutable(['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip']);
  if (!ip)
    throw new EgressUnavailableError('ip is not installed: it sets the routes that keep functions with egress off this machine (apt-get install iproute2)');
  return { slirp4netns, nsenter, ip, deny: o.deny };
}

function ipv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return NaN;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

/**
 * Parses a deny list ("host, 169.254.0.0/16, 10.1.2.3"); throws with the entry at fault. A range that
 * holds slirp4netns's own gateway or DNS would cut the function off the network altogether: refused.
 */
export function parseDenyList(value: string): string[] {
  const out: string[] = [];
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    if (entry === 'host') {
      out.push(entry);
      continue;
    }
    const [addr, bitsText, extra] = entry.split('/');
    const bits = bitsText === undefined ? 32 : /^\d{1,2}$/.test(bitsText) ? Number(bitsText) : NaN;
    const start = ipv4(addr);
    if (extra !== undefined || Number.isNaN(start) || !(bits >= 0 && bits <= 32)) {
      throw new Error(`"${entry}" is neither "host" nor an IPv4 address or CIDR (like 10.1.0.0/16)`);
    }
    const size = 2 ** (32 - bits);
    const first = start - (start % size);
    if (first <= SLIRP_NETWORK.last && first + size - 1 >= SLIRP_NETWORK.first) {
      throw new Error(`"${entry}" overlaps 10.0.2.0/24, the sandbox's own network (its gateway and DNS)`);
    }
    out.push(`${[24, 16, 8, 0].map((s) => Math.floor(first / 2 ** s) % 256).join('.')}/${bits}`);
  }
  return out;
}

/** The deny list as CIDRs, "host" expanded to this machine's current addresses. */
export function denyRoutes(deny: string[], interfaces = networkInterfaces()): string[] {
  const routes = new Set<string>();
  for (const entry of deny) {
    if (entry !== 'host') {
      routes.add(entry);
      continue;
    }
    for (const list of Object.values(interfaces)) {
      for (const a of list ?? []) {
        // Loopback is slirp4netns's part (--disable-host-loopback); inside 10.0.2.0/24 the route would shadow slirp's own.
        if (a.family === 'IPv4' && !a.internal && !(ipv4(a.address) >= SLIRP_NETWORK.first && ipv4(a.address) <= SLIRP_NETWORK.last))
          routes.add(`${a.address}/32`);
      }
    }
  }
  return [...routes];
}

/** The slirp4netns command line for the sandbox whose first process is `pid` (ready on fd 3, exit on fd 4). */
export function slirpArgs(pid: number): string[] {
  return [
    '--configure',
    `--mtu=${MTU}`,
    '--disable-host-loopback',
    // Its own mount namespace with nothing but what it needs, capabilities dropped, and a syscall filter.
    '--enable-sandbox',
    '--enable-seccomp',
    // Enter the sandbox's network namespace from the host's user namespace: bwrap --disable-userns put the
    // sandbox's processes in a nested user namespace that holds no capability over that network namespace.
    '--userns-path=/proc/self/ns/user',
    '--ready-fd=3',
    // Closed when the invoker dies, however it dies: slirp4netns then exits too.
    '--exit-fd=4',
    String(pid),
    'tap0',
  ];
}

const STDERR_KEEP = 2048;

/**
 * The user-mode network of one sandbox: slirp4netns attached to its namespace, plus the deny routes.
 * `ready` resolves once the function may run (interface up, routes set); `stop()` ends it.
 */
export class SandboxNetwork {
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  private readonly child: ChildProcess;
  private stderr = '';
  private gone = false;

  constructor(
    private readonly net: EgressNetwork,
    private readonly pid: number,
  ) {
    this.child = spawn(net.slirp4netns, slirpArgs(pid), { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], env: {} });
    const [, , stderr, readyFd, exitFd] = this.child.stdio as unknown as Readable[];
    stderr.on('data', (c: Buffer) => (this.stderr = (this.stderr + c.toString('utf8')).slice(-STDERR_KEEP)));
    exitFd.on('error', () => undefined);
    readyFd.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', () => ((this.gone = true), resolve()));
      this.child.on('error', () => ((this.gone = true), resolve()));
    });
    this.ready = new Promise<void>((resolve, reject) => {
      this.child.on('error', (err) => reject(new Error(`could not start slirp4netns: ${err.message}`)));
      this.child.on('exit', (code, signal) =>
        reject(new Error(`slirp4netns exited (${signal ?? `code ${code}`}) before the network was up: ${this.stderrTail()}`)),
      );
      readyFd.once('data', () => {
        this.route().then(resolve, reject);
      });
    });
    this.ready.catch(() => this.stop());
  }

  /** Ends slirp4netns; the sandbox keeps only its loopback (and `exited` resolves). */
  stop(): void {
    if (!this.gone) this.child.kill('SIGKILL');
  }

  private stderrTail(): string {
    // Its chatter ("sent tapfd=...", the seccomp warning) is not the reason.
    const lines = this.stderr.split('\n').filter((l) => l.trim() && !/tapfd|seccomp is experimental/.test(l));
    return lines.slice(-3).join('; ') || 'no message';
  }

  /** "unreachable" routes for the deny list, set from the host (the sandbox has no right to change them). */
  private route(): Promise<void> {
    const routes = denyRoutes(this.net.deny);
    if (!routes.length) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const ip = spawn(this.net.nsenter, [`--net=/proc/${this.pid}/ns/net`, '--', this.net.ip, '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'], env: {} });
      let err = '';
      ip.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
      ip.on('error', (e) => reject(new Error(`could not set the sandbox's routes: ${e.message}`)));
      ip.on('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`could not set the sandbox's routes (${routes.join(', ')}): ${err.trim() || `ip exited with ${code}`}`)),
      );
      ip.stdin!.on('error', () => undefined);
      ip.stdin!.end(routes.map((r) => `route add unreachable ${r}\n`).join(''));
    });
  }
}
