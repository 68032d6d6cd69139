import { Injectable } from '@nestjs/common';
import { EffectiveConfig, effectiveConfig } from '@platform/contracts';
import { DeploymentStore } from '../deployments/deployment.store';
import { RetryPolicy } from './invocation.entity';

/** What asynchronous invocations of a function run with: the effective config of its READY deployment. */
export interface FunctionPolicy {
  label: string | null;
  /** The deployed version; null when not deployed. */
  version: number | null;
  retry: RetryPolicy;
  timeoutMs: number;
  asyncQueueSize: number;
  /** Attempts of this function running at once, every deployer together: what its instances take. */
  inFlightLimit: number;
}

/** A deployment changes seldom; the dispatcher asks for every attempt. */
const CACHE_MS = 1_000;

function policyOf(config: EffectiveConfig, label: string | null, version: number | null): FunctionPolicy {
  return {
    label,
    version,
    retry: { ...config.retry, on: [...config.retry.on] },
    timeoutMs: config.resources.timeoutMs,
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
    const policy = d?.status === 'READY' ? policyOf(d.spec.config, d.label, d.version) : policyOf(effectiveConfig(undefined, 'node'), d?.label ?? null, null);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(functionId, { at: Date.now(), policy });
    return policy;
  }
}
