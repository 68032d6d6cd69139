import { ValidationError } from '@platform/contracts';
import { seriesBounds, seriesSql, statsFilter, summarySql } from './stats-query';

const FN = '7f2c1b9e-3c1a-4d55-9b7e-0a6f1c2d3e4f';
const NOW = new Date('2026-01-31T12:34:56Z');
const sec = (iso: string) => Date.parse(iso) / 1000;

describe('statsFilter', () => {
  it('counts only the invocation results of the function', () => {
    const f = statsFilter({ functionId: FN });
    expect(f.where).toBe(`function_id = $1 AND type = 'FUNCTION_INVOCATION' AND status IN ('SUCCESS', 'FAILURE')`);
    expect(f.params).toEqual([FN]);
    expect({ from: f.from, to: f.to }).toEqual({ from: null, to: null });
  });

  it('adds the time range as parameters after the function id', () => {
    const f = statsFilter({ functionId: FN, from: '2026-01-31T12:00:00Z', to: '2026-01-31T13:00:00Z' });
    expect(f.where).toContain('AND timestamp >= $2 AND timestamp < $3');
    expect(f.params).toEqual([FN, '2026-01-31T12:00:00.000Z', '2026-01-31T13:00:00.000Z']);
    expect(summarySql(f)).toContain('percentile_cont(ARRAY[0.5, 0.9, 0.95, 0.99]::float8[])');
  });

  it('rejects from after to', () => {
    expect(() => statsFilter({ functionId: FN, from: '2026-01-31T13:00:00Z', to: '2026-01-31T12:00:00Z' })).toThrow(ValidationError);
  });
});

describe('seriesBounds', () => {
  it('aligns buckets to multiples of their width and treats to as exclusive', () => {
    const b = seriesBounds(60, { from: '2026-01-31T12:00:30Z', to: '2026-01-31T12:05:00Z' }, { first: null, last: null }, NOW);
    expect(b).toEqual({ lo: sec('2026-01-31T12:00:00Z'), hi: sec('2026-01-31T12:04:00Z'), buckets: 5 });
  });

  it('keeps the bucket that holds the instants just before a to that is not on a boundary', () => {
    const b = seriesBounds(60, { from: '2026-01-31T12:00:00Z', to: '2026-01-31T12:01:00.001Z' }, { first: null, last: null }, NOW);
    expect(b?.buckets).toBe(2);
  });

  it('spans from the first invocation to now when no range is given', () => {
    const b = seriesBounds(3600, { from: null, to: null }, { first: new Date('2026-01-31T09:10:00Z'), last: new Date('2026-01-31T11:00:00Z') }, NOW);
    expect(b).toEqual({ lo: sec('2026-01-31T09:00:00Z'), hi: sec('2026-01-31T12:00:00Z'), buckets: 4 });
  });

  it('has nothing to span without a from and without invocations', () => {
    expect(seriesBounds(60, { from: null, to: null }, { first: null, last: null }, NOW)).toBeNull();
  });

  it('refuses a series of more than 10000 buckets and says what to change', () => {
    expect(() => seriesBounds(1, { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' }, { first: null, last: null }, NOW)).toThrow(
      /bucketSeconds=1 makes 86400 buckets .*at most 10000: use a larger bucketSeconds or a narrower from\/to/,
    );
  });

  it('numbers the series parameters after the filter parameters', () => {
    const f = statsFilter({ functionId: FN, from: '2026-01-31T12:00:00Z' });
    const s = seriesSql(f);
    expect(s.sql).toContain('generate_series($3::bigint, $4::bigint, $5::bigint)');
    expect(s.params({ lo: 10, hi: 20, buckets: 2 }, 10)).toEqual([FN, '2026-01-31T12:00:00.000Z', 10, 20, 10]);
  });
});
