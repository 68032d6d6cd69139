import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { eventBinding, EventNames, FunctionPatterns, FunctionView } from '@platform/contracts';
import { EventSubscriber, RpcClient } from '@platform/messaging';
import { HttpRoutes } from '../proxy/http-routes';

/** What the gateway needs to know about a function to authorise an invocation. */
export type FunctionAccess =
  | {
      known: true;
      id: string;
      label: string;
      /** What /fn/{label}{path} serves, by method and path, and which of it needs no key: its http triggers, compiled. */
      routes: HttpRoutes;
    }
  | { known: false };

const TTL_MS = 10_000;

/**
 * A function's id, label and http triggers (compiled once here, so /fn/ matches a request without building
 * anything). Asked of the registry once per id or label and cached; function.created/
 * updated/deleted events drop the cache at once.
 */
@Injectable()
export class FunctionAuthCache implements OnApplicationBootstrap {
  private readonly entries = new Map<string, { access: FunctionAccess; until: number }>();
  private readonly pending = new Map<string, Promise<FunctionAccess>>();

  constructor(
    private readonly rpc: RpcClient,
    private readonly subscriber: EventSubscriber,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.subscriber.subscribe({
      queue: 'gateway.function-auth',
      broadcast: true,
      bindings: [EventNames.FunctionCreated, EventNames.FunctionUpdated, EventNames.FunctionDeleted].map((name) => eventBinding(name)),
      // Rare events, and a rename does not name the old label: start over.
      handler: () => this.entries.clear(),
    });
  }

  /** Rejects (503) when the registry cannot be asked and nothing is cached: protected functions fail closed. */
  async accessOf(ref: string): Promise<FunctionAccess> {
    const hit = this.entries.get(ref);
    if (hit && hit.until > Date.now()) return hit.access;
    let p = this.pending.get(ref);
    if (!p) {
      p = this.lookup(ref).finally(() => this.pending.delete(ref));
      this.pending.set(ref, p);
    }
    return p;
  }

  private async lookup(ref: string): Promise<FunctionAccess> {
    let access: FunctionAccess;
    try {
      const f = await this.rpc.call<FunctionView>('function-registry', FunctionPatterns.Resolve, { id: ref });
      access = { known: true, id: f.id, label: f.label, routes: HttpRoutes.of(f.label, f.id, f.config?.triggers) };
    } catch (err) {
      // 404: no such function; 400: not a name any function can have. Either way it needs a key, and the invoker answers.
      const status = (err as { statusCode?: number }).statusCode;
      if (status !== 404 && status !== 400) throw err;
      access = { known: false };
    }
    this.entries.set(ref, { access, until: Date.now() + TTL_MS });
    if (this.entries.size > 10_000) this.entries.delete(this.entries.keys().next().value as string);
    return access;
  }
}
