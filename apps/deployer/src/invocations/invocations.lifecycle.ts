import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import { InvocationDispatcher } from './invocation-dispatcher';
import { InvocationPump } from './invocation-pump';
import { InvocationQueue } from './invocation-queue';

/**
 * Starts the delivery loop (DeployerLifecycle calls start() once the other consumers are up: a refused start then
 * closes no channel mid-setup) and stops it, every timer and channel, before the connections close.
 */
@Injectable()
export class InvocationsLifecycle implements BeforeApplicationShutdown {
  constructor(
    private readonly dispatcher: InvocationDispatcher,
    private readonly pump: InvocationPump,
    private readonly queue: InvocationQueue,
  ) {}

  async start(): Promise<void> {
    await this.dispatcher.start();
    this.pump.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.pump.stop();
    await this.dispatcher.stop();
    await this.queue.close();
  }
}
