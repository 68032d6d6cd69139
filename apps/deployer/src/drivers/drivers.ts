import { Injectable } from '@nestjs/common';
import { DeploymentDriverName } from '@platform/contracts';
import { DeploymentDriver } from './driver';
import { KnativeDriver } from './knative/knative.driver';
import { LocalDriver } from './local.driver';

/** The drivers by name. */
@Injectable()
export class Drivers {
  private readonly byName: Record<DeploymentDriverName, DeploymentDriver>;

  constructor(local: LocalDriver, knative: KnativeDriver) {
    this.byName = { local, knative };
  }

  get(name: DeploymentDriverName): DeploymentDriver {
    return this.byName[name];
  }
}
