import { FormEvent, useCallback, useEffect, useState } from 'react';
import { api, ApiError, FunctionView, TrafficView, VersionView } from '../api';
import { ErrorText } from '../components/ErrorText';
import { StatusBadge, when } from '../components/format';

/** Versions (GET .../versions), rollback (POST .../rollback) and the traffic split (GET/PUT .../traffic). */
export function VersionsTab({ fn, onChanged }: { fn: FunctionView; onChanged: () => Promise<void> }) {
  const [versions, setVersions] = useState<VersionView[]>([]);
  const [traffic, setTraffic] = useState<TrafficView | null>(null);
  const [trafficNote, setTrafficNote] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [rollbackError, setRollbackError] = useState<unknown>(null);
  const [splitError, setSplitError] = useState<unknown>(null);
  const [split, setSplit] = useState<Record<number, string>>({});
  const [sticky, setSticky] = useState(false);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setVersions(await api<VersionView[]>('GET', `/api/v1/functions/${fn.id}/versions`));
    } catch (err) {
      setError(err);
    }
    try {
      const t = await api<TrafficView>('GET', `/api/v1/functions/${fn.id}/traffic`);
      setTraffic(t);
      setTrafficNote(null);
      setSticky(t.sticky);
      setSplit(Object.fromEntries(t.splits.map((s) => [s.version, String(s.percent)])));
    } catch (err) {
      setTraffic(null);
      setTrafficNote(err instanceof ApiError && err.status === 404 ? 'Not deployed: deploy a version to split traffic.' : (err as Error).message);
    }
  }, [fn.id]);

  useEffect(() => {
    void load();
  }, [load]);

  async function rollback(to?: number) {
    setBusy(true);
    setRollbackError(null);
    setDone(null);
    try {
      const d = await api<{ version: number; status: string }>('POST', `/api/v1/functions/${fn.id}/rollback`, to ? { to } : {});
      await load();
      await onChanged();
      setDone(`Rolled back: version ${d.version} is ${d.status}.`);
    } catch (err) {
      setRollbackError(err);
    } finally {
      setBusy(false);
    }
  }

  async function saveSplit(e: FormEvent) {
    e.preventDefault();
    setSplitError(null);
    setDone(null);
    const splits = Object.entries(split)
      .filter(([, p]) => p.trim() !== '' && Number(p) > 0)
      .map(([v, p]) => ({ version: Number(v), percent: Number(p) }));
    const sum = splits.reduce((a, s) => a + s.percent, 0);
    if (splits.some((s) => !Number.isInteger(s.percent))) return setSplitError(new Error('percentages must be whole numbers'));
    if (sum !== 100) return setSplitError(new Error(`the percentages must add up to 100 (they add up to ${sum})`));
    setBusy(true);
    try {
      const t = await api<TrafficView>('PUT', `/api/v1/functions/${fn.id}/traffic`, { splits, sticky });
      setTraffic(t);
      setDone(`Traffic: ${t.splits.map((s) => `v${s.version} ${s.percent} %`).join(', ')}.`);
    } catch (err) {
      setSplitError(err);
    } finally {
      setBusy(false);
    }
  }

  const built = versions.filter((v) => v.buildStatus === 'SUCCEEDED');
  return (
    <div className="stack">
      <ErrorText error={error} />
      {done && (
        <p className="ok" role="status">
          {done}
        </p>
      )}
      <section aria-labelledby="versions-title">
        <h2 id="versions-title">Versions</h2>
        <table className="list compact" data-testid="versions">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Runtime</th>
              <th scope="col">Build</th>
              <th scope="col">Created</th>
              <th scope="col">Serving</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => {
              const share = traffic?.splits.find((s) => s.version === v.version);
              const aliases = traffic ? Object.entries(traffic.aliases).filter(([, n]) => n === v.version) : [];
              return (
                <tr key={v.version}>
                  <th scope="row">v{v.version}</th>
                  <td>{v.runtime}</td>
                  <td>{v.buildStatus ? <StatusBadge status={v.buildStatus} /> : <span className="muted">not built</span>}</td>
                  <td>{when(v.createdAt)}</td>
                  <td>
                    {share ? `${share.percent} %` : ''} {aliases.map(([a]) => a).join(', ')}
                  </td>
                  <td>
                    {traffic && v.buildStatus === 'SUCCEEDED' && traffic.version !== v.version && (
                      <button type="button" className="secondary" disabled={busy} onClick={() => void rollback(v.version)}>
                        Roll back to v{v.version}
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {traffic && (
          <p>
            <button type="button" className="secondary" disabled={busy} onClick={() => void rollback()}>
              Roll back to the version that served before
            </button>
          </p>
        )}
        <ErrorText error={rollbackError} id="rollback-error" />
      </section>
      <section aria-labelledby="traffic-title">
        <h2 id="traffic-title">Traffic split</h2>
        {trafficNote && <p className="muted">{trafficNote}</p>}
        {traffic && (
          <form onSubmit={(e) => void saveSplit(e)} className="stack">
            <p className="muted">Whole percentages per built version, adding up to 100; leave a version empty for no traffic.</p>
            <div className="row">
              {built.map((v) => (
                <div className="field" key={v.version}>
                  <label htmlFor={`split-${v.version}`}>v{v.version} (%)</label>
                  <input
                    id={`split-${v.version}`}
                    inputMode="numeric"
                    size={5}
                    value={split[v.version] ?? ''}
                    onChange={(e) => setSplit((s) => ({ ...s, [v.version]: e.target.value }))}
                  />
                </div>
              ))}
            </div>
            <label className="check">
              <input type="checkbox" checked={sticky} onChange={(e) => setSticky(e.target.checked)} /> Sticky: the same caller keeps its version
            </label>
            <ErrorText error={splitError} id="split-error" />
            <div>
              <button type="submit" disabled={busy}>
                Apply split
              </button>
            </div>
          </form>
        )}
      </section>
    </div>
  );
}
