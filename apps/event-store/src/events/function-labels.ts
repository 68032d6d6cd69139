import { Injectable, Logger } from '@nestjs/common';
import { FunctionPatterns, FunctionRef, FunctionView } from '@platform/contracts';
import { RpcClient } from '@platform/messaging';

/** Ids remembered; a label never changes for an id, so entries only leave to bound the memory. */
const REMEMBERED = 10_000;

/**
 * The label of a function by id, for the routing key and subject of an event a user posts about it.
 * Asked of the registry once per id. A function the registry does not know (deleted) or cannot tell
 * right now gets no label: its event is routed under `_` rather than delayed or refused.
 */
@Injectable()
export class FunctionLabels {
  private readonly logger = new Logger(FunctionLabels.name);
  private readonly labels = new Map<string, string>();

  constructor(private readonly rpc: RpcClient) {}

  async of(functionId: string | null): Promise<string | null> {
    if (!functionId) return null;
    const known = this.labels.get(functionId);
    if (known) return known;
    try {
      const fn = await this.rpc.call<FunctionView>('function-registry', FunctionPatterns.Resolve, { id: functionId } satisfies FunctionRef);
      this.remember(functionId, fn.label);
      return fn.label;
    } catch (err) {
      this.logger.warn(`no label for function ${functionId} (${(err as Error).message}); its event is routed as concerning no function`);
      return null;
    }
  }

  /** A label the caller already knows (the request named the function by it). */
  remember(functionId: string, label: string): void {
    if (this.labels.size >= REMEMBERED) this.labels.delete(this.labels.keys().next().value as string);
    this.labels.set(functionId, label);
  }
}
