import { Injectable } from '@nestjs/common';
import { EventName, EventNames, EventStatus, newEvent } from '@platform/contracts';
import { EventPublisher } from '@platform/messaging';
import { Deployment, toView } from './deployment.entity';

const STATUS: Record<string, EventStatus> = {
  [EventNames.DeploymentStarted]: 'PENDING',
  [EventNames.DeploymentReady]: 'SUCCESS',
  [EventNames.DeploymentFailed]: 'FAILURE',
  [EventNames.DeploymentDeleted]: 'SUCCESS',
};

/** deployment.* events (type FUNCTION_DEPLOYMENT); the payload is the view without env, so no secret leaves. */
@Injectable()
export class DeploymentEvents {
  constructor(private readonly publisher: EventPublisher) {}

  publish(name: EventName, d: Deployment): Promise<void> {
    return this.publisher.publish(
      newEvent({
        name,
        type: 'FUNCTION_DEPLOYMENT',
        status: STATUS[name],
        source: 'deployer',
        functionId: d.functionId,
        functionLabel: d.label,
        payload: toView(d),
        error: name === EventNames.DeploymentFailed ? d.reason : null,
        metadata: { deploymentId: d.id, driver: d.driver, version: d.version, label: d.label, revision: d.routing?.revision ?? 0 },
      }),
    );
  }
}
