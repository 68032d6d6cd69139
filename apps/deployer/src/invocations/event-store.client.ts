import { Inject, Injectable } from '@nestjs/common';
import { SETTINGS } from '@platform/config';
import { EventPage, EventPatterns, PlatformEvent } from '@platform/contracts';
import { RpcClient } from '@platform/messaging';
import { DeployerSettingsValues } from '../settings';

/** The event store's record of an invocation: its result event (and its PENDING one), oldest first. */
@Injectable()
export class EventStoreClient {
  constructor(
    private readonly rpc: RpcClient,
    @Inject(SETTINGS) private readonly settings: DeployerSettingsValues,
  ) {}

  /** Every event of the invocation (one per attempt for an async one); throws when the event store does not answer. */
  async eventsOf(invocationId: string): Promise<PlatformEvent[]> {
    const page = await this.rpc.call<EventPage>(
      'event-store',
      EventPatterns.Query,
      { invocationId, type: 'FUNCTION_INVOCATION', limit: 500, order: 'asc' },
      this.settings.DEPLOYER_EVENT_STORE_TIMEOUT_MS,
    );
    return page.items;
  }
}
