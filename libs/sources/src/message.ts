import { messageEvent, PlainMessage } from './cloudevent';
import { s3Events, s3Records } from './s3/notification';
import type { SourceEvent } from './types';

/**
 * The events one message gives a trigger: itself (format "message", the default), or with format "s3" the
 * records of the S3 bucket notification it carries. A message that is not a notification is then an error the
 * caller reports (and acknowledges: it will never become one).
 */
export function eventsOf(m: PlainMessage, trigger: Record<string, unknown>): SourceEvent[] {
  if (trigger.format !== 's3') return [messageEvent(m)];
  const records = s3Records(m.body);
  if (!records) throw new Error(`a message on ${m.from} is not an S3 bucket notification (format: s3): ${m.body.toString('utf8').slice(0, 200)}`);
  return s3Events(records, {});
}
