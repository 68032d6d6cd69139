import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { FunctionPatterns, FunctionView, HttpTrigger } from '@platform/contracts';
import { EventSubscriber, RpcClient } from '@platform/messaging';
import { GatewayAccess } from './gateway-access';

export type FunctionAuth = 'none' | 'api-key' | 'unknown';

const TTL_MS = 10_000;

/**
 * Whether /fn/{label} needs an API key (an http trigger with auth "api-key"). Asked of the registry
 * once per label and cached; function.updated/deleted events drop an entry at once. Only used when
 * API keys are configured, so without keys the invocation path never waits for it.
 */
@Injectable()
export class FunctionAuthCache implements OnApplicationBootstrap {
  private readonly entries = new Map<string, { auth: FunctionAuth; until: number }>();
  private readonly pending = new Map<string, Promise<FunctionAuth>>();

  constructor(
    private readonly rpc: RpcClient,
    private readonly subscriber: EventSubscriber,
    private readonly access: GatewayAccess,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.access.keys.enabled) return;
    await this.subscriber.subscribe({
      queue: 'gateway.function-auth',
      broadcast: true,
      bindings: ['function.created', 'function.updated', 'function.deleted'],
      // Rare events, and a rename does not name the old label: start over.
      handler: async () => this.entries.clear(),
    });
  }

  /** Rejects (503) when the registry cannot be asked and nothing is cached: protected functions fail closed. */
  async authOf(label: string): Promise<FunctionAuth> {
    const hit = this.entries.get(label);
    if (hit && hit.until > Date.now()) return hit.auth;
    let p = this.pending.get(label);
    if (!p) {
      p = this.lookup(label).finally(() => this.pending.delete(label));
      this.pending.set(label, p);
    }
    return p;
  }

  private async lookup(label: string): Promise<FunctionAuth> {
    let auth: FunctionAuth;
    try {
      const f = await this.rpc.call<FunctionView>('function-registry', FunctionPatterns.Resolve, { id: label });
      const http = (f.config?.triggers ?? []).filter((t): t is HttpTrigger => t.type === 'http');
      auth = http.some((t) => t.auth === 'api-key') ? 'api-key' : 'none';
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      // Unknown function: the invoker answers its 404.
      auth = 'unknown';
    }
    this.entries.set(label, { auth, until: Date.now() + TTL_MS });
    if (this.entries.size > 10_000) this.entries.delete(this.entries.keys().next().value as string);
    return auth;
  }
}
