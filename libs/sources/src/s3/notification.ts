import type { SourceEvent } from '../types';

/** One record of an S3 event notification (AWS and MinIO send the same shape). */
export interface S3Record {
  eventName: string;
  eventTime?: string;
  s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string; sequencer?: string; versionId?: string } };
  [field: string]: unknown;
}

/**
 * The records of an S3 bucket notification: AWS's `{"Records": [...]}` (also inside an SNS envelope's Message),
 * MinIO's `{"EventName", "Key", "Records": [...]}`. Undefined when the body is not one.
 */
export function s3Records(body: unknown): S3Record[] | undefined {
  let value = body;
  if (typeof value === 'string' || Buffer.isBuffer(value)) {
    try {
      value = JSON.parse(value.toString());
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  // An SNS notification carries the S3 event as a JSON string in Message.
  if (v.Type === 'Notification' && typeof v.Message === 'string') return s3Records(v.Message);
  if (!Array.isArray(v.Records)) return undefined;
  const records = v.Records.filter(
    (r): r is S3Record =>
      typeof r === 'object' &&
      r !== null &&
      typeof (r as S3Record).eventName === 'string' &&
      typeof (r as S3Record).s3?.bucket?.name === 'string' &&
      typeof (r as S3Record).s3?.object?.key === 'string',
  );
  return records.length === v.Records.length ? records : undefined;
}

/** S3 event names in records lack the "s3:" prefix (AWS: "ObjectCreated:Put"); MinIO has it. Always with it here. */
export function s3EventName(name: string): string {
  return name.startsWith('s3:') ? name : `s3:${name}`;
}

/** Whether `name` (s3:ObjectCreated:Put) matches a filter (s3:ObjectCreated:* or the exact name). */
export function s3EventMatches(name: string, filters: string[] | undefined): boolean {
  if (!filters?.length) return true;
  const n = s3EventName(name);
  return filters.some((f) => (f.endsWith(':*') ? n.startsWith(f.slice(0, -1)) : n === f || n.startsWith(`${f}:`)));
}

export interface S3Filter {
  bucket?: string;
  events?: string[];
  prefix?: string;
  suffix?: string;
}

/** Object keys in notifications are URL-encoded (spaces as "+"). */
export function s3ObjectKey(record: S3Record): string {
  try {
    return decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
  } catch {
    return record.s3.object.key;
  }
}

/** The records a trigger takes, as events. */
export function s3Events(records: S3Record[], filter: S3Filter): SourceEvent[] {
  const out: SourceEvent[] = [];
  for (const r of records) {
    const bucket = r.s3.bucket.name;
    const key = s3ObjectKey(r);
    if (filter.bucket && bucket !== filter.bucket) continue;
    if (!s3EventMatches(r.eventName, filter.events)) continue;
    if (filter.prefix && !key.startsWith(filter.prefix)) continue;
    if (filter.suffix && !key.endsWith(filter.suffix)) continue;
    const version = r.s3.object.sequencer ?? r.s3.object.eTag ?? r.s3.object.versionId ?? r.eventTime ?? '';
    out.push({
      specversion: '1.0',
      id: `${bucket}/${key}@${version}:${s3EventName(r.eventName)}`.slice(0, 1024),
      source: `hks://s3/${bucket}`,
      type: s3EventName(r.eventName),
      time: r.eventTime ?? new Date().toISOString(),
      subject: key,
      datacontenttype: 'application/json',
      data: r,
    });
  }
  return out;
}
