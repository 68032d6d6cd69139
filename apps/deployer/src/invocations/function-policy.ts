import { Injectable } from '@nestjs/common';
import { EffectiveConfig, FunctionConfigDto, RuntimeFamily } from '@platform/contracts';
import { effectiveConfigOf } from '@platform/runtimes';
import { DeploymentStore } from '../deployments/deployment.store';
import { RetryPolicy } from './invocation.entity';

/** What asynchronous invocations of a function run with: the effective config of its READY deployment. */
export interface FunctionPolicy {
  label: string | null;
  /** The deployed version; null when not deployed. */
  version: number | null;
  retry: RetryPolicy;
  timeoutMs: number;
  /** resources.maxRequestBytes: a larger body is refused at accept (the invoker would refuse it with 413 anyway). */
  maxRequestBytes: number;
  asyncQueueSize: number;
  /** Attempts of this function running at once, every deployer together: what its instances take. */
  inFlightLimit: number;
}

/** A deployment changes seldom; the dispatcher asks for every attempt. */
const CACHE_MS = 1_000;

/**
 * A deployment's stored config filled in with today's defaults: a spec stored before config.retry or
 * scaling.asyncQueueSize existed lacks them (what is set stays as it is, the invoker does the same).
 */
function filledIn(stored: EffectiveConfig | undefined | null, family: RuntimeFamily | undefined): EffectiveConfig {
  return effectiveConfigOf(stored as unknown as FunctionConfigDto | undefined, family ?? 'node');
}

function policyOf(config: EffectiveConfig, label: string | null, version: number | null): FunctionPolicy {
  return {
    label,
    version,
    retry: { ...config.retry, on: [...config.retry.on] },
    timeoutMs: config.resources.timeoutMs,
    maxRequestBytes: config.resources.maxRequestBytes,
    asyncQueueSize: config.scaling.asyncQueueSize,
    inFlightLimit: Math.max(1, config.scaling.maxInstances * config.scaling.concurrency),
  };
}

/**
 * The policy from the deployer's own deployments table (its stored spec holds the effective config), so accepting
 * and dispatching need no call to the registry; the defaults when the function is not deployed.
 */
@Injectable()
export class FunctionPolicies {
  private readonly cache = new Map<string, { at: number; policy: FunctionPolicy }>();

  constructor(private readonly deployments: DeploymentStore) {}

  async of(functionId: string): Promise<FunctionPolicy> {
    const hit = this.cache.get(functionId);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.policy;
    const d = await this.deployments.current(functionId);
    const policy =
      d?.status === 'READY'
        ? policyOf(filledIn(d.spec.config, d.spec.family), d.label, d.version)
        : policyOf(effectiveConfigOf(undefined, 'node'), d?.label ?? null, null);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(functionId, { at: Date.now(), policy });
    return policy;
  }
}
