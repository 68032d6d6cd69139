import * as net from 'net';

/**
 * A TCP proxy a test puts in front of Postgres, RabbitMQ or Redis to simulate an outage without touching the
 * machine's own services: `cut()` drops every open connection and refuses new ones (the port stays bound, so
 * nothing else can take it), `restore()` lets connections through again.
 */
export class TcpProxy {
  private server?: net.Server;
  private readonly open = new Set<net.Socket>();
  private cutOff = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** A proxy for the host:port of a URL (postgres://, amqp://, redis://); `url` gives the same URL through it. */
  static forUrl(url: string): TcpProxy & { url: string } {
    const u = new URL(url);
    const defaults: Record<string, number> = { 'postgres:': 5432, 'postgresql:': 5432, 'amqp:': 5672, 'redis:': 6379 };
    const proxy = new TcpProxy(u.hostname, Number(u.port || defaults[u.protocol] || 0)) as TcpProxy & { url: string };
    Object.defineProperty(proxy, 'url', {
      get: () => {
        const through = new URL(url);
        through.hostname = '127.0.0.1';
        through.port = String(proxy.port);
        return through.toString();
      },
    });
    return proxy;
  }

  async start(port = 0): Promise<this> {
    this.server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** Connections currently relayed (both ends count as one). */
  get connections(): number {
    return this.open.size / 2;
  }

  get isCut(): boolean {
    return this.cutOff;
  }

  /** Resets every relayed connection and refuses (resets) new ones until `restore()`. */
  cut(): void {
    this.cutOff = true;
    for (const s of this.open) s.resetAndDestroy();
    this.open.clear();
  }

  restore(): void {
    this.cutOff = false;
  }

  async stop(): Promise<void> {
    this.cut();
    if (!this.server) return;
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  private accept(client: net.Socket): void {
    if (this.cutOff) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(this.targetPort, this.targetHost);
    this.open.add(client);
    this.open.add(upstream);
    const close = () => {
      this.open.delete(client);
      this.open.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
