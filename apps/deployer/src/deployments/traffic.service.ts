import { Injectable, Logger } from '@nestjs/common';
import {
  aliasProblem,
  CanaryView,
  EventNames,
  MAX_ALIASES,
  MAX_VERSION,
  NotFoundError,
  Routing,
  SetTrafficDto,
  splitsProblem,
  StateError,
  TrafficView,
  ValidationError,
  VERSION_RANGE,
} from '@platform/contracts';
import { DeploymentFailure } from '../drivers/driver';
import { RegistryClient } from '../registry/registry.client';
import { DeploymentEvents } from './deployment-events';
import { Deployment, StoredVersion } from './deployment.entity';
import { DeploymentStore } from './deployment.store';
import { DeploymentsService } from './deployments.service';
import { canarySplits, startCanary, toTrafficView, versionsNeeded } from './routing';

/**
 * Aliases and traffic splits of a deployed function. A change names the versions that must run; those not running
 * yet are fetched from the registry (each must have a successful build) and started by the driver beside the others
 * before the routing moves, so no invocation is sent to a version that does not answer.
 */
@Injectable()
export class TrafficService {
  private readonly logger = new Logger(TrafficService.name);

  constructor(
    private readonly store: DeploymentStore,
    private readonly registry: RegistryClient,
    private readonly deployments: DeploymentsService,
    private readonly events: DeploymentEvents,
  ) {}

  async get(idOrLabel: string): Promise<TrafficView> {
    return toTrafficView(await this.serving(idOrLabel));
  }

  async setTraffic(idOrLabel: string, dto: SetTrafficDto): Promise<TrafficView> {
    const d = await this.serving(idOrLabel);
    if (!dto.splits && !dto.canary)
      throw new ValidationError('send splits ([{version, percent}, ...]) or a canary ({version, steps, intervalSeconds, maxErrorRate})');
    if (dto.splits && dto.canary) throw new ValidationError('send splits or a canary, not both');
    let canary: CanaryView | null = null;
    let splits = dto.splits?.map((s) => ({ version: s.version, percent: s.percent })) ?? null;
    if (dto.canary) {
      canary = startCanary(dto.canary, d.version, new Date());
      splits = canarySplits(canary);
    } else {
      const problem = splitsProblem(splits!);
      if (problem) throw new ValidationError(problem);
    }
    const routing: Routing = { ...d.routing, splits, sticky: dto.sticky ?? false, revision: d.routing.revision + 1 };
    return toTrafficView(await this.apply(d, routing, canary));
  }

  async setAlias(idOrLabel: string, alias: string, version: number): Promise<TrafficView> {
    const problem = aliasProblem(alias);
    if (problem) throw new ValidationError(problem);
    if (!Number.isInteger(version) || version < 1 || version > MAX_VERSION) throw new ValidationError(`version must be ${VERSION_RANGE}`);
    const d = await this.serving(idOrLabel);
    const names = Object.keys(d.routing.aliases);
    if (!names.includes(alias) && names.length >= MAX_ALIASES) {
      throw new StateError(
        `function ${d.label} has ${names.length} aliases already, the most a function may have (${MAX_ALIASES} besides latest); ` +
          `delete one (DELETE /api/v1/functions/${d.label}/aliases/{alias}) or move an existing one`,
      );
    }
    const routing: Routing = { ...d.routing, aliases: { ...d.routing.aliases, [alias]: version }, revision: d.routing.revision + 1 };
    return toTrafficView(await this.apply(d, routing, d.canary));
  }

  async deleteAlias(idOrLabel: string, alias: string): Promise<TrafficView> {
    const d = await this.serving(idOrLabel);
    if (!Object.prototype.hasOwnProperty.call(d.routing.aliases, alias)) throw new NotFoundError(`function ${d.label} has no alias "${alias}"`);
    const aliases = { ...d.routing.aliases };
    delete aliases[alias];
    return toTrafficView(await this.apply(d, { ...d.routing, aliases, revision: d.routing.revision + 1 }, d.canary));
  }

  /**
   * Starts the versions the routing needs, then stores it (only if no one changed it meanwhile) and tells every
   * invoker. Versions nothing names any more stop.
   */
  async apply(d: Deployment, routing: Routing, canary: CanaryView | null): Promise<Deployment> {
    const versions: StoredVersion[] = [];
    for (const v of versionsNeeded(routing, d.version)) {
      const held = d.versions.find((x) => x.spec.version === v);
      if (held) versions.push(held);
      else {
        const spec = await this.registry.runtimeSpec(d.functionId, v);
        versions.push({ spec, env: d.driver === 'local' ? { ...spec.config.env } : null });
      }
    }
    const next: Deployment = { ...d, versions, routing, canary };
    try {
      await this.deployments.redeploy(next);
    } catch (err) {
      // The routing did not move; what ran before still runs (the invoker keeps its pools until told otherwise).
      await this.deployments.redeploy(d).catch((e) => this.logger.warn(`could not restore ${d.label}'s routing on the driver: ${(e as Error).message}`));
      const message = err instanceof DeploymentFailure ? err.message : (err as Error).message;
      throw new StateError(`function ${d.label}: the versions could not be started (${message}); the traffic is as it was`);
    }
    const saved = await this.store.updateRouting(d.id, d.routing.revision, { versions, routing, canary });
    if (!saved) throw new StateError(`function ${d.label}'s traffic was changed by someone else meanwhile; read it again (GET .../traffic) and retry`);
    await this.events.publish(EventNames.DeploymentReady, saved);
    this.logger.log(`${d.label}: traffic revision ${routing.revision}: ${JSON.stringify(routing.splits ?? [{ version: d.version, percent: 100 }])}`);
    return saved;
  }

  private async serving(idOrLabel: string): Promise<Deployment> {
    const d = await this.store.current(idOrLabel);
    if (!d || d.status === 'FAILED')
      throw new NotFoundError(`function ${idOrLabel} is not deployed; deploy it first (POST /api/v1/functions/deploy/${idOrLabel})`);
    if (d.status === 'DEPLOYING') throw new StateError(`function ${d.label} is being deployed; wait for it to finish and try again`);
    return d;
  }
}
