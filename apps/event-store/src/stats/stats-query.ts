import { InvocationStatsQueryDto, MAX_STATS_BUCKETS, ValidationError } from '@platform/contracts';
import { parseRange } from '../events/instants';

/**
 * Invocation results are the FUNCTION_INVOCATION events with status SUCCESS or FAILURE (the
 * invoker's invocation.succeeded|failed); the PENDING ones are not counted. The filter leads with
 * function_id and timestamp, the columns of events_function_time_idx.
 */
export interface StatsFilter {
  where: string;
  params: unknown[];
  from: string | null;
  to: string | null;
}

export function statsFilter(q: Pick<InvocationStatsQueryDto, 'functionId' | 'from' | 'to' | 'version'>): StatsFilter {
  const { from, to } = parseRange(q);
  const params: unknown[] = [q.functionId.toLowerCase()];
  const where = [`function_id = $1`, `type = 'FUNCTION_INVOCATION'`, `status IN ('SUCCESS', 'FAILURE')`];
  if (from) where.push(`timestamp >= $${params.push(from)}`);
  if (to) where.push(`timestamp < $${params.push(to)}`);
  // The invoker records the version that ran in each result's metadata.
  if (q.version !== undefined) where.push(`metadata->>'version' = $${params.push(String(q.version))}`);
  return { where: where.join(' AND '), params, from, to };
}

export const PERCENTILES = [0.5, 0.9, 0.95, 0.99] as const;

export function summarySql(f: StatsFilter, byVersion = false): string {
  return `
    SELECT ${byVersion ? `(metadata->>'version')::int AS version,` : ''} count(*) AS invocations,
           count(*) FILTER (WHERE status = 'SUCCESS') AS successes,
           count(*) FILTER (WHERE status = 'FAILURE') AS failures,
           count(*) FILTER (WHERE metadata->>'coldStart' = 'true') AS cold_starts,
           percentile_cont(ARRAY[${PERCENTILES.join(', ')}]::float8[]) WITHIN GROUP (ORDER BY processing_time_ms) AS percentiles,
           avg(processing_time_ms) AS avg,
           max(processing_time_ms) AS max,
           min(timestamp) AS first,
           max(timestamp) AS last
      FROM events.events
     WHERE ${f.where}${byVersion ? ` AND metadata->>'version' ~ '^[0-9]{1,9}$' GROUP BY 1 ORDER BY 1 DESC` : ''}`;
}

/** Epoch seconds of the first and last bucket start of a series; buckets align to multiples of the width. */
export interface SeriesBounds {
  lo: number;
  hi: number;
  buckets: number;
}

/**
 * The series spans [from, to), or from the first invocation to the later of now and the last
 * invocation when from/to are not given, so a chart of "since from" shows its empty recent buckets.
 * Null when there is nothing to span.
 */
export function seriesBounds(
  bucketSeconds: number,
  range: { from: string | null; to: string | null },
  data: { first: Date | null; last: Date | null },
  now: Date,
): SeriesBounds | null {
  const startSec = range.from ? Date.parse(range.from) / 1000 : data.first ? data.first.getTime() / 1000 : null;
  if (startSec === null) return null;
  const lo = Math.floor(startSec / bucketSeconds) * bucketSeconds;
  // `to` is exclusive: the last bucket is the one holding the instants just before it.
  const hi = range.to
    ? Math.ceil(Date.parse(range.to) / 1000 / bucketSeconds) * bucketSeconds - bucketSeconds
    : Math.floor(Math.max(now.getTime(), data.last?.getTime() ?? 0) / 1000 / bucketSeconds) * bucketSeconds;
  if (hi < lo) return null;
  const buckets = (hi - lo) / bucketSeconds + 1;
  if (buckets > MAX_STATS_BUCKETS) {
    throw new ValidationError(
      `bucketSeconds=${bucketSeconds} makes ${buckets} buckets from ${new Date(lo * 1000).toISOString()} to ` +
        `${new Date((hi + bucketSeconds) * 1000).toISOString()}; at most ${MAX_STATS_BUCKETS}: use a larger bucketSeconds or a narrower from/to`,
    );
  }
  return { lo, hi, buckets };
}

/** One row per bucket from lo to hi, empty buckets included. Parameters follow the filter's. */
export function seriesSql(f: StatsFilter): { sql: string; params: (b: SeriesBounds, bucketSeconds: number) => unknown[] } {
  const n = f.params.length;
  const [lo, hi, width] = [`$${n + 1}::bigint`, `$${n + 2}::bigint`, `$${n + 3}::bigint`];
  return {
    sql: `
      WITH results AS (
        SELECT floor(extract(epoch FROM timestamp) / ${width})::bigint * ${width} AS bucket, status, processing_time_ms
          FROM events.events
         WHERE ${f.where} AND timestamp >= to_timestamp(${lo}) AND timestamp < to_timestamp(${hi} + ${width})
      ), agg AS (
        SELECT bucket,
               count(*) AS invocations,
               count(*) FILTER (WHERE status = 'FAILURE') AS failures,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY processing_time_ms) AS p50,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY processing_time_ms) AS p95
          FROM results GROUP BY bucket
      )
      SELECT s AS start, coalesce(a.invocations, 0) AS invocations, coalesce(a.failures, 0) AS failures, a.p50, a.p95
        FROM generate_series(${lo}, ${hi}, ${width}) AS s
        LEFT JOIN agg a ON a.bucket = s
       ORDER BY s`,
    params: (b, bucketSeconds) => [...f.params, b.lo, b.hi, bucketSeconds],
  };
}
