import { Injectable, Logger } from '@nestjs/common';
import { eventBinding, EventNames, PlatformEvent } from '@platform/contracts';
import { EventSubscriber } from '@platform/messaging';
import { DeploymentsService } from './deployments.service';

export const FUNCTION_EVENTS_QUEUE = 'deployer.functions';

/** function.deleted -> the function's deployment and triggers are removed. Acked only once that is done. */
@Injectable()
export class FunctionEventsConsumer {
  private readonly logger = new Logger(FunctionEventsConsumer.name);

  constructor(
    private readonly subscriber: EventSubscriber,
    private readonly deployments: DeploymentsService,
  ) {}

  async start(): Promise<void> {
    await this.subscriber.subscribe({
      queue: FUNCTION_EVENTS_QUEUE,
      bindings: [eventBinding(EventNames.FunctionDeleted)],
      handler: async (events) => {
        for (const event of events) {
          const functionId = deletedFunctionId(event);
          if (!functionId) {
            this.logger.warn(`function.deleted event ${event.id} names no function; ignored`);
            continue;
          }
          await this.deployments.onFunctionDeleted(functionId);
        }
      },
    });
  }
}

function deletedFunctionId(event: PlatformEvent): string | null {
  if (event.functionId) return event.functionId;
  const payload = event.payload as { id?: unknown; functionId?: unknown } | null;
  const id = payload?.functionId ?? payload?.id;
  return typeof id === 'string' ? id : null;
}
