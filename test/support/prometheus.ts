import { ChildProcess, spawn } from 'child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { freePort } from '@platform/testing';
import { until } from './invocations';

const BINARY = process.env.HKS_PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** A real Prometheus (Debian's package) on a free 127.0.0.1 port, with its own config and data dir; stop() ends it. */
export class TestPrometheus {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly output: () => string,
  ) {}

  /** Scrapes `targets` (host:port) every second at /metrics with `Authorization: Bearer <token>`. */
  static async start(targets: string[], token: string): Promise<TestPrometheus> {
    if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: apt-get install prometheus (scripts/setup does)`);
    const dir = mkdtempSync(path.join(tmpdir(), 'hks-prometheus-'));
    const port = await freePort();
    writeFileSync(path.join(dir, 'token'), token, { mode: 0o600 });
    writeFileSync(
      path.join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        'scrape_configs:',
        '  - job_name: hks',
        '    authorization:',
        `      credentials_file: ${path.join(dir, 'token')}`,
        '    static_configs:',
        `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
        '',
      ].join('\n'),
    );
    let log = '';
    const child = spawn(
      BINARY,
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-20_000)));
    child.stderr?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-20_000)));
    const prom = new TestPrometheus(`http://127.0.0.1:${port}`, child, dir, () => log);
    try {
      await until(async () => ((await fetch(`${prom.url}/-/ready`).catch(() => undefined))?.status === 200 ? true : undefined), 'Prometheus ready', 30_000);
    } catch (err) {
      await prom.stop();
      throw new Error(`${(err as Error).message}; its output: ${log}`);
    }
    return prom;
  }

  /** An instant query through the HTTP API. */
  async query(q: string): Promise<PromSample[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as { status: string; data?: { result: PromSample[] }; error?: string };
    if (body.status !== 'success') throw new Error(`query ${q} failed: ${body.error}`);
    return body.data!.result;
  }

  /** The single value of a query, or undefined when it has no sample. */
  async value(q: string): Promise<number | undefined> {
    const r = await this.query(q);
    if (r.length > 1) throw new Error(`query ${q} gave ${r.length} series: ${JSON.stringify(r.map((s) => s.metric))}`);
    return r.length ? Number(r[0].value[1]) : undefined;
  }

  async targets(): Promise<Array<{ scrapeUrl: string; health: string; lastError: string; lastScrapeDuration: number }>> {
    const res = await fetch(`${this.url}/api/v1/targets`);
    return ((await res.json()) as { data: { activeTargets: never[] } }).data.activeTargets;
  }

  log(): string {
    return this.output();
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
