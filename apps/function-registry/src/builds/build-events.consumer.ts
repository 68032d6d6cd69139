import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { EventSubscriber } from '@platform/messaging';
import { BuildsService } from './builds.service';

/** Build results from the builder; a durable queue shared by the registry's replicas. */
@Injectable()
export class BuildEventsConsumer implements OnApplicationBootstrap {
  constructor(
    private readonly subscriber: EventSubscriber,
    private readonly builds: BuildsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.subscriber.subscribe({
      queue: 'function-registry.builds',
      bindings: ['build.*.*'],
      batchSize: 20,
      batchWaitMs: 0,
      handler: (events) => this.builds.onBuildEvents(events),
    });
  }
}
