import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { createHash } from 'crypto';
import { ApiKeyPatterns, ApiKeyScope, ApiKeyVerdict, eventBinding, EventNames } from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { EventSubscriber, RpcClient } from '@platform/messaging';
import { GatewaySettingsValues } from '../settings';
import { EnvironmentKeys } from './api-keys';

/** Who a valid key speaks for. */
export interface Principal {
  /** The key's id, or "env" for a key of HKS_API_KEYS. */
  id: string;
  scope: ApiKeyScope;
  /** Function ids an invoke key may call. */
  functions: string[];
}

/** How long a verdict is trusted; a revoke event also drops every verdict at once. */
const VALID_TTL_MS = 5_000;
const INVALID_TTL_MS = 1_000;
const MAX_ENTRIES = 10_000;

/**
 * Verifies API keys: those of HKS_API_KEYS (admin) locally, the others by their sha256 against the registry.
 * Verdicts are cached a few seconds, so a revoked key stops working within seconds even if the event is lost.
 */
@Injectable()
export class KeyVerifier implements OnApplicationBootstrap {
  private readonly environment: EnvironmentKeys;
  private readonly entries = new Map<string, { principal: Principal | undefined; until: number }>();
  private readonly pending = new Map<string, Promise<Principal | undefined>>();
  private generation = 0;

  constructor(
    @Inject(SETTINGS) settings: GatewaySettingsValues,
    private readonly rpc: RpcClient,
    private readonly subscriber: EventSubscriber,
  ) {
    this.environment = new EnvironmentKeys(settings.HKS_API_KEYS);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.subscriber.subscribe({
      queue: 'gateway.api-keys',
      broadcast: true,
      bindings: [eventBinding(EventNames.ApiKeyRevoked)],
      handler: () => this.forget(),
    });
  }

  /** Drops every cached verdict (a key was revoked). */
  forget(): void {
    this.generation++;
    this.entries.clear();
  }

  /** The key's principal, or undefined when the key is not valid. Rejects when the registry cannot be asked. */
  async verify(key: string): Promise<Principal | undefined> {
    if (this.environment.includes(key)) return { id: 'env', scope: 'admin', functions: [] };
    const hash = createHash('sha256').update(key, 'utf8').digest('hex');
    const hit = this.entries.get(hash);
    if (hit && hit.until > Date.now()) return hit.principal;
    let p = this.pending.get(hash);
    if (!p) {
      p = this.lookup(hash).finally(() => this.pending.delete(hash));
      this.pending.set(hash, p);
    }
    return p;
  }

  private async lookup(hash: string): Promise<Principal | undefined> {
    const generation = this.generation;
    const verdict = await this.rpc.call<ApiKeyVerdict>('function-registry', ApiKeyPatterns.Verify, { hash });
    const principal = verdict.valid ? { id: verdict.id, scope: verdict.scope, functions: verdict.functions } : undefined;
    // A revoke that arrived while asking: this answer may predate it, so do not keep it.
    if (generation === this.generation) {
      this.entries.set(hash, { principal, until: Date.now() + (principal ? VALID_TTL_MS : INVALID_TTL_MS) });
      if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
    }
    return principal;
  }
}
