import { functionInvokePath, functionUrls, type FunctionView } from '@platform/contracts';
import { ApiError, CliError } from '../errors';
import { GatewayClient } from '../http/gateway-client';
import { CliIO } from '../io';
import { OutputFormat } from '../output/format';
import { resolveSettings } from '../settings';

/** What every command gets: the IO, the gateway client made from the global flags, and its output format. */
export class CommandContext {
  private gateway?: GatewayClient;

  constructor(
    readonly io: CliIO,
    private readonly globals: { gateway?: string; apiKey?: string; output?: OutputFormat },
  ) {}

  get format(): OutputFormat {
    return this.globals.output ?? 'table';
  }

  get client(): GatewayClient {
    if (!this.gateway) {
      const s = resolveSettings(this.globals, this.io.env);
      this.gateway = new GatewayClient(s.gatewayUrl, s.apiKey);
    }
    return this.gateway;
  }

  out(text: string): void {
    this.io.stdout(text);
  }

  /** Progress and notes go to stderr, so stdout stays the command's data (pipe it, parse it). */
  note(text: string): void {
    this.io.stderr(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** GET /api/v1/functions/{idOrLabel}, with a clear message when there is no such function. */
  async getFunction(name: string): Promise<FunctionView> {
    try {
      return await this.client.call<FunctionView>('GET', `/api/v1/functions/${encodeURIComponent(name)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        throw new CliError(`function "${name}" does not exist (hks function list shows the functions)`);
      }
      throw err;
    }
  }

  /**
   * The function's URLs on the gateway's /fn/, one per http trigger path; none when it has triggers but no http
   * trigger (the gateway answers 404 there: it runs through invokeUrl and its triggers).
   */
  functionUrls(f: Pick<FunctionView, 'label' | 'config'>): string[] {
    return functionUrls(f.label, f.config?.triggers).map((p) => `${this.client.baseUrl}${p}`);
  }

  /** The function's data-style invoke route on the gateway (POST). */
  invokeUrl(idOrLabel: string): string {
    return `${this.client.baseUrl}${functionInvokePath(idOrLabel)}`;
  }

  /** Resolves after `ms`, or early when the user presses Ctrl-C. */
  sleep(ms = this.io.pollIntervalMs ?? 500): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.io.signal;
      const stop = () => {
        clearTimeout(t);
        resolve();
      };
      // Removed when the time is up: a command that polls often (dev) would pile up listeners otherwise.
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', stop);
        resolve();
      }, ms);
      signal?.addEventListener('abort', stop, { once: true });
    });
  }
}
