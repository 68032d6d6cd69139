import { Inject, Injectable } from '@nestjs/common';
import { PlatformEvent, ValidationError } from '@platform/contracts';
import { EventPublisher } from '@platform/messaging';
import { EventRow, toPlatformEvent } from '../storage/event-row';
import { readingDatabase } from '../storage/db-errors';
import { EventWriter } from '../storage/event-writer';
import { FunctionLabels } from './function-labels';

/** Posts that share one INSERT: more waits longer for nothing, fewer pays a transaction per few events. */
const MAX_ROWS = 500;
/** How long the first post of a group waits for others; below a post's own round trip, so a lone post barely notices. */
const MAX_WAIT_MS = 2;

interface Pending {
  row: EventRow;
  resolve: (event: PlatformEvent) => void;
  reject: (err: unknown) => void;
}

/**
 * Users' posted events, stored and published in groups: the posts that arrive within MAX_WAIT_MS of each other
 * (or MAX_ROWS of them) share one multi-row INSERT, one COMMIT and one publishMany whose confirms the broker
 * sends together. Each post is answered only after its row is committed and its message confirmed (or
 * spooled), as one post alone would be; a transaction per post capped the endpoint at a few hundred events/s.
 */
@Injectable()
export class PostedEvents {
  private waiting: Pending[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly writer: EventWriter,
    @Inject(EventPublisher) private readonly publisher: EventPublisher,
    private readonly labels: FunctionLabels,
  ) {}

  /** Resolves with the event as stored once it is committed and published. */
  record(row: EventRow): Promise<PlatformEvent> {
    return new Promise<PlatformEvent>((resolve, reject) => {
      this.waiting.push({ row, resolve, reject });
      if (this.waiting.length >= MAX_ROWS) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), MAX_WAIT_MS);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const group = this.waiting;
    this.waiting = [];
    if (group.length) void this.storeAndPublish(group);
  }

  private async storeAndPublish(group: Pending[]): Promise<void> {
    try {
      const { inserted } = await readingDatabase(() =>
        this.writer.store(
          group.map((p) => p.row),
          [],
          'rows',
        ),
      );
      const stored = new Map(inserted.map((row) => [row.id, toPlatformEvent(row)]));
      const published = await Promise.all(
        group.flatMap((p) => {
          const event = stored.get(p.row.id);
          return event ? [this.labels.of(event.functionId).then((functionLabel) => ({ ...event, functionLabel }))] : [];
        }),
      );
      await this.publisher.publishMany(published);
      for (const p of group) {
        const event = stored.get(p.row.id);
        // Ids are new for every post, so a row missing from the answer is one the database refused (kept in rejected_events).
        if (event) p.resolve(event);
        else p.reject(new ValidationError(`the database refused event ${p.row.id}; it is not stored`));
      }
    } catch (err) {
      for (const p of group) p.reject(err);
    }
  }
}
