import { Injectable } from '@nestjs/common';
import { FunctionPatterns, FunctionRef, FunctionView, isUuid, LABEL_REF_PATTERN } from '@platform/contracts';
import { RpcClient } from '@platform/messaging';
import { FunctionLabels } from './function-labels';

/**
 * Every RPC that takes a function id also takes the function's label. Events are stored by id, so
 * a label is turned into the id by the registry (FunctionPatterns.Resolve; 404 when no function has
 * it). Ids are used as they are: events of a deleted function stay queryable.
 */
@Injectable()
export class FunctionRefs {
  constructor(
    private readonly rpc: RpcClient,
    private readonly labels: FunctionLabels,
  ) {}

  /** The payload with a label in `field` replaced by the function's id; anything else is left for validation. */
  async resolveIn(payload: unknown, field = 'functionId'): Promise<unknown> {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return payload;
    const ref = (payload as Record<string, unknown>)[field];
    if (typeof ref !== 'string' || isUuid(ref) || !LABEL_REF_PATTERN.test(ref)) return payload;
    const fn = await this.rpc.call<FunctionView>('function-registry', FunctionPatterns.Resolve, { id: ref } satisfies FunctionRef);
    this.labels.remember(fn.id, fn.label);
    return { ...payload, [field]: fn.id };
  }
}
