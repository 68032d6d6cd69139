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
