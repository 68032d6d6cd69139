import { EventQueryDto, ValidationError } from '@platform/contracts';
import { EVENT_COLUMNS } from '../storage/event-row';
import { parseRange } from './instants';

export const DEFAULT_PAGE_LIMIT = 50;

/** SQL for one page of events and for the total of the same filter; values only as parameters. */
export interface EventQueryPlan {
  sql: string;
  params: unknown[];
  countSql: string;
  countParams: unknown[];
  page: number;
  limit: number;
}

/**
 * Builds the page query for an already validated EventQueryDto. Each filter maps onto an index
 * (function_id, type or status with timestamp; invocation_id; timestamp); `id` breaks ties so
 * pages never overlap or skip events that share a timestamp.
 */
export function buildEventQuery(q: EventQueryDto): EventQueryPlan {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (clause: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    where.push(clause(`$${params.length}`));
  };

  if (q.functionId) add((p) => `function_id = ${p}`, q.functionId.toLowerCase());
  if (q.invocationId) add((p) => `invocation_id = ${p}`, q.invocationId.toLowerCase());
  if (q.type) add((p) => `type = ${p}`, q.type);
  if (q.status) add((p) => `status = ${p}`, q.status);
  const { from, to } = parseRange(q);
  if (from) add((p) => `timestamp >= ${p}`, from);
  if (to) add((p) => `timestamp < ${p}`, to);

  const page = q.page ?? 1;
  const limit = q.limit ?? DEFAULT_PAGE_LIMIT;
  const offset = (page - 1) * limit;
  if (!Number.isSafeInteger(offset)) throw new ValidationError('page is too large for the limit; ask for an earlier page');
  const direction = q.order === 'asc' ? 'ASC' : 'DESC';
  const filter = where.length ? ` WHERE ${where.join(' AND ')}` : '';

  return {
    sql:
      `SELECT ${EVENT_COLUMNS} FROM events.events${filter} ` +
      `ORDER BY timestamp ${direction}, id ${direction} LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
    params: [...params, limit, offset],
    countSql: `SELECT count(*) AS total FROM events.events${filter}`,
    countParams: params,
    page,
    limit,
  };
}
