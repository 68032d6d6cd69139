import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CreateEventDto, EventPage, EventQueryDto, NotFoundError, PlatformEvent, postedEvent, ValidationError } from '@platform/contracts';
import { admitEvent, EVENT_COLUMNS, StoredEventRow, toPlatformEvent } from '../storage/event-row';
import { readingDatabase } from '../storage/db-errors';
import { buildEventQuery } from './event-query';
import { PostedEvents } from './posted-events';

@Injectable()
export class EventsService {
  constructor(
    private readonly ds: DataSource,
    private readonly posted: PostedEvents,
  ) {}

  /** One page of events matching the filters, with the total of all matching events. */
  async query(q: EventQueryDto): Promise<EventPage> {
    const plan = buildEventQuery(q);
    const [rows, count] = await readingDatabase(() =>
      Promise.all([
        this.ds.query(plan.sql, plan.params) as Promise<StoredEventRow[]>,
        this.ds.query(plan.countSql, plan.countParams) as Promise<Array<{ total: string }>>,
      ]),
    );
    return { items: rows.map(toPlatformEvent), total: Number(count[0].total), page: plan.page, limit: plan.limit };
  }

  async get(id: string): Promise<PlatformEvent> {
    const rows: StoredEventRow[] = await readingDatabase(() => this.ds.query(`SELECT ${EVENT_COLUMNS} FROM events.events WHERE id = $1`, [id]));
    if (!rows.length) throw new NotFoundError(`event ${id} not found`);
    return toPlatformEvent(rows[0]);
  }

  /**
   * Stores a user's event, then publishes it as `event.created` so that functions with an event
   * trigger of its type run. Stored first: the answer is the row as kept; the store's own consumer
   * then sees the published copy and skips it by id. Publishing awaits the broker's confirm or the
   * publisher's spool, so the trigger is never silently dropped. It is routed as
   * `event.<type>.<function label>` (the label only travels on the bus, it is not stored). Concurrent posts
   * share one INSERT and one publish (PostedEvents); each is still answered only once durable.
   */
  async create(dto: CreateEventDto): Promise<PlatformEvent> {
    const event = postedEvent(dto);
    const admission = admitEvent(event);
    if ('rejected' in admission) throw new ValidationError(admission.rejected.reason);
    return this.posted.record(admission.row);
  }
}
