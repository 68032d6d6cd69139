import { useCallback, useEffect, useState } from 'react';
import { api, FunctionPage, FunctionView, InvocationStats } from '../api';
import { ErrorText } from '../components/ErrorText';
import { Link } from '../router';
import { percent, StatusBadge, triggerKinds } from '../components/format';

type Row = FunctionView & { stats?: InvocationStats; statsError?: string };

/** Every function at a glance: status, version, trigger kinds, and its invocations and error rate (the stats endpoint). */
export function FunctionList() {
  const [rows, setRows] = useState<Row[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);

  const load = useCallback(async () => {
    setLoading(true);
    setError(null);
    try {
      const page = await api<FunctionPage>('GET', '/api/v1/functions?limit=200');
      const withStats = await Promise.all(
        page.items.map(async (f): Promise<Row> => {
          try {
            return { ...f, stats: await api<InvocationStats>('GET', `/api/v1/functions/${f.id}/stats`) };
          } catch (err) {
            return { ...f, statsError: (err as Error).message };
          }
        }),
      );
      setRows(withStats);
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <section aria-labelledby="functions-title">
      <div className="title-row">
        <h1 id="functions-title">Functions</h1>
        <button type="button" className="secondary" onClick={() => void load()} disabled={loading}>
          {loading ? 'Loading…' : 'Refresh'}
        </button>
        <Link to="/new" className="button">
          New function
        </Link>
      </div>
      <ErrorText error={error} />
      {rows && rows.length === 0 && (
        <p>
          No function yet. <Link to="/new">Create one</Link>.
        </p>
      )}
      {rows && rows.length > 0 && (
        <table className="list" data-testid="function-list">
          <thead>
            <tr>
              <th scope="col">Function</th>
              <th scope="col">Status</th>
              <th scope="col">Version</th>
              <th scope="col">Runtime</th>
              <th scope="col">Triggers</th>
              <th scope="col" className="num">
                Invocations
              </th>
              <th scope="col" className="num">
                Error rate
              </th>
              <th scope="col" className="num">
                p95 ms
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((f) => (
              <tr key={f.id} data-label={f.label}>
                <th scope="row">
                  <Link to={`/functions/${f.id}`}>{f.label}</Link>
                  {f.description && <div className="muted small">{f.description}</div>}
                </th>
                <td>
                  <StatusBadge status={f.status} />
                </td>
                <td>v{f.version}</td>
                <td>{f.runtime}</td>
                <td>{triggerKinds(f.config)}</td>
                <td className="num" data-testid="invocations">
                  {f.stats ? f.stats.invocations : <span title={f.statsError}>–</span>}
                </td>
                <td className="num">{f.stats ? percent(f.stats.errorRate) : '–'}</td>
                <td className="num">{f.stats?.durationMs.p95 != null ? f.stats.durationMs.p95.toFixed(1) : '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
