import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { InvocationStats, InvocationStatsQueryDto } from '@platform/contracts';
import { readingDatabase } from '../storage/db-errors';
import { PERCENTILES, seriesBounds, seriesSql, statsFilter, summarySql } from './stats-query';

interface SummaryRow {
  version?: number;
  invocations: string;
  successes: string;
  failures: string;
  cold_starts: string;
  percentiles: number[] | null;
  avg: number | null;
  max: number | null;
  first: Date | null;
  last: Date | null;
}

interface SeriesRow {
  start: string;
  invocations: string;
  failures: string;
  p50: number | null;
  p95: number | null;
}

/** Durations are measured in ms with sub-ms noise; three decimals (microseconds) is what is meaningful. */
function ms(v: number | null | undefined): number | null {
  return v === null || v === undefined ? null : Math.round(v * 1000) / 1000;
}

function figures(s: SummaryRow): Omit<InvocationStats, 'functionId' | 'from' | 'to' | 'series' | 'versions'> {
  const invocations = Number(s.invocations);
  const failures = Number(s.failures);
  const p = (fraction: (typeof PERCENTILES)[number]) => ms(s.percentiles?.[PERCENTILES.indexOf(fraction)]);
  return {
    invocations,
    successes: Number(s.successes),
    failures,
    errorRate: invocations ? failures / invocations : 0,
    coldStarts: Number(s.cold_starts),
    durationMs: { p50: p(0.5), p90: p(0.9), p95: p(0.95), p99: p(0.99), avg: ms(s.avg), max: ms(s.max) },
  };
}

/** Aggregates over a function's invocation results, computed by Postgres. */
@Injectable()
export class StatsService {
  constructor(private readonly ds: DataSource) {}

  async invocationStats(q: InvocationStatsQueryDto, now = new Date()): Promise<InvocationStats> {
    const filter = statsFilter(q);
    const [s]: SummaryRow[] = await readingDatabase(() => this.ds.query(summarySql(filter), filter.params));
    const stats: InvocationStats = {
      functionId: q.functionId.toLowerCase(),
      from: filter.from,
      to: filter.to,
      ...figures(s),
    };
    if (q.by === 'version') {
      const rows: SummaryRow[] = await readingDatabase(() => this.ds.query(summarySql(filter, true), filter.params));
      stats.versions = rows.map((r) => ({ version: Number(r.version), ...figures(r) }));
    }
    if (q.bucketSeconds !== undefined) {
      const bounds = seriesBounds(q.bucketSeconds, filter, { first: s.first, last: s.last }, now);
      if (!bounds) stats.series = [];
      else {
        const series = seriesSql(filter);
        const rows: SeriesRow[] = await readingDatabase(() => this.ds.query(series.sql, series.params(bounds, q.bucketSeconds!)));
        stats.series = rows.map((r) => ({
          start: new Date(Number(r.start) * 1000).toISOString(),
          invocations: Number(r.invocations),
          failures: Number(r.failures),
          p50: ms(r.p50),
          p95: ms(r.p95),
        }));
      }
    }
    return stats;
  }
}
