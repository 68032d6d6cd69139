import { useCallback, useEffect, useState } from 'react';
import { api, FunctionView, InvocationStats } from '../api';
import { Chart } from '../components/Chart';
import { ErrorText } from '../components/ErrorText';
import { percent } from '../components/format';

/** Periods offered, with the bucket width that gives about 30-60 points. */
const PERIODS: Array<{ id: string; name: string; seconds: number; bucket: number }> = [
  { id: '5m', name: 'Last 5 minutes', seconds: 300, bucket: 10 },
  { id: '15m', name: 'Last 15 minutes', seconds: 900, bucket: 30 },
  { id: '1h', name: 'Last hour', seconds: 3600, bucket: 60 },
  { id: '6h', name: 'Last 6 hours', seconds: 21600, bucket: 600 },
  { id: '24h', name: 'Last 24 hours', seconds: 86400, bucket: 1800 },
  { id: '7d', name: 'Last 7 days', seconds: 604800, bucket: 10800 },
];

const ms = (v: number | null) => (v == null ? '–' : `${v.toFixed(1)} ms`);

/** Counts, error rate, cold starts and duration percentiles over a chosen period (GET .../stats with bucketSeconds). */
export function StatsTab({ fn }: { fn: FunctionView }) {
  const [period, setPeriod] = useState('15m');
  const [stats, setStats] = useState<InvocationStats | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [auto, setAuto] = useState(true);
  const [loadedAt, setLoadedAt] = useState<Date | null>(null);

  const load = useCallback(async () => {
    const p = PERIODS.find((x) => x.id === period)!;
    const from = new Date(Date.now() - p.seconds * 1000).toISOString();
    try {
      setStats(await api<InvocationStats>('GET', `/api/v1/functions/${fn.id}/stats?from=${encodeURIComponent(from)}&bucketSeconds=${p.bucket}`));
      setError(null);
      setLoadedAt(new Date());
    } catch (err) {
      setError(err);
    }
  }, [fn.id, period]);

  useEffect(() => {
    void load();
    if (!auto) return;
    const t = setInterval(() => void load(), 5000);
    return () => clearInterval(t);
  }, [load, auto]);

  const series = stats?.series ?? [];
  const t = (s: { start: string }) => Date.parse(s.start);
  return (
    <div className="stack">
      <div className="row">
        <div className="field">
          <label htmlFor="period">Period</label>
          <select id="period" value={period} onChange={(e) => setPeriod(e.target.value)}>
            {PERIODS.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </div>
        <label className="check">
          <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} /> Refresh every 5 s
        </label>
        <button type="button" className="secondary" onClick={() => void load()}>
          Refresh now
        </button>
        {loadedAt && <span className="muted">as of {loadedAt.toLocaleTimeString()}</span>}
      </div>
      <ErrorText error={error} />
      {stats && (
        <>
          <dl className="cards" data-testid="stats-summary">
            <div>
              <dt>Invocations</dt>
              <dd data-testid="stat-invocations">{stats.invocations}</dd>
            </div>
            <div>
              <dt>Failures</dt>
              <dd>{stats.failures}</dd>
            </div>
            <div>
              <dt>Error rate</dt>
              <dd>{percent(stats.errorRate)}</dd>
            </div>
            <div>
              <dt>Cold starts</dt>
              <dd>{stats.coldStarts}</dd>
            </div>
            <div>
              <dt>p50</dt>
              <dd>{ms(stats.durationMs.p50)}</dd>
            </div>
            <div>
              <dt>p90</dt>
              <dd>{ms(stats.durationMs.p90)}</dd>
            </div>
            <div>
              <dt>p95</dt>
              <dd>{ms(stats.durationMs.p95)}</dd>
            </div>
            <div>
              <dt>p99</dt>
              <dd>{ms(stats.durationMs.p99)}</dd>
            </div>
            <div>
              <dt>max</dt>
              <dd>{ms(stats.durationMs.max)}</dd>
            </div>
          </dl>
          <div className="charts">
            <Chart
              title="Invocations per bucket"
              unit="count"
              series={[
                { name: 'invocations', className: 's1', points: series.map((s) => ({ t: t(s), v: s.invocations })) },
                { name: 'failures', className: 's3', points: series.map((s) => ({ t: t(s), v: s.failures })) },
              ]}
            />
            <Chart
              title="Duration percentiles"
              unit="ms"
              series={[
                { name: 'p50', className: 's1', points: series.map((s) => ({ t: t(s), v: s.p50 })) },
                { name: 'p95', className: 's2', points: series.map((s) => ({ t: t(s), v: s.p95 })) },
              ]}
            />
          </div>
        </>
      )}
    </div>
  );
}
