import { ValidationError } from '@platform/contracts';
import { toInstant } from '../storage/event-row';

/**
 * A time from a query, normalised to ISO-8601 UTC. class-validator's ISO-8601 check lets through
 * forms Postgres does not read (week dates, years past 9999), so they are turned away here with a
 * message that names the field instead of failing in SQL.
 */
export function parseInstant(field: string, value: string): string {
  const instant = toInstant(value);
  if (!instant) throw new ValidationError(`${field} must be an ISO-8601 date-time between the years 0001 and 9999, e.g. 2026-01-31T12:00:00Z`);
  return instant;
}

/** The from/to of a query, each parsed as above (null when not given); 400 unless from is before to. */
export function parseRange(q: { from?: string; to?: string }): { from: string | null; to: string | null } {
  const from = q.from !== undefined ? parseInstant('from', q.from) : null;
  const to = q.to !== undefined ? parseInstant('to', q.to) : null;
  if (from && to && Date.parse(from) >= Date.parse(to)) throw new ValidationError(`from (${from}) must be before to (${to})`);
  return { from, to };
}
