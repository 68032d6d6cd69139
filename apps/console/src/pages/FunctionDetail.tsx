import { useCallback, useEffect, useState } from 'react';
import { api, FunctionView } from '../api';
import { ErrorText } from '../components/ErrorText';
import { StatusBadge, triggerKinds } from '../components/format';
import { Link } from '../router';
import { CodeTab } from './CodeTab';
import { BuildTab } from './BuildTab';
import { VersionsTab } from './VersionsTab';
import { InvokeTab } from './InvokeTab';
import { EventsView } from './LiveEvents';
import { StatsTab } from './StatsTab';

const TABS: Array<[string, string]> = [
  ['code', 'Code & config'],
  ['build', 'Build & deploy'],
  ['versions', 'Versions & traffic'],
  ['invoke', 'Invoke'],
  ['live', 'Live invocations'],
  ['stats', 'Stats'],
];

export function FunctionDetail({ id, tab }: { id: string; tab: string }) {
  const [fn, setFn] = useState<FunctionView | null>(null);
  const [error, setError] = useState<unknown>(null);

  const reload = useCallback(async () => {
    try {
      setFn(await api<FunctionView>('GET', `/api/v1/functions/${encodeURIComponent(id)}`));
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, [id]);

  useEffect(() => {
    void reload();
  }, [reload]);

  if (!fn)
    return (
      <section>
        <p>
          <Link to="/">← Functions</Link>
        </p>
        {error ? <ErrorText error={error} /> : <p>Loading…</p>}
      </section>
    );

  return (
    <section aria-labelledby="fn-title">
      <p className="crumbs">
        <Link to="/">← Functions</Link>
      </p>
      <div className="title-row">
        <h1 id="fn-title">{fn.label}</h1>
        <StatusBadge status={fn.status} />
        <span className="muted">
          v{fn.version} · {fn.runtime} · {triggerKinds(fn.config)}
        </span>
        <button type="button" className="secondary" onClick={() => void reload()}>
          Refresh
        </button>
      </div>
      {fn.statusReason && <p className="muted">{fn.statusReason}</p>}
      <ErrorText error={error} />
      <nav className="tabs" aria-label="Function pages">
        {TABS.map(([t, name]) => (
          <Link key={t} to={`/functions/${fn.id}/${t}`} aria-current={t === tab ? 'page' : undefined}>
            {name}
          </Link>
        ))}
      </nav>
      <div className="tab-body">
        {tab === 'code' && <CodeTab fn={fn} onSaved={setFn} />}
        {tab === 'build' && <BuildTab fn={fn} onChanged={reload} />}
        {tab === 'versions' && <VersionsTab fn={fn} onChanged={reload} />}
        {tab === 'invoke' && <InvokeTab fn={fn} />}
        {tab === 'live' && <EventsView functionId={fn.id} />}
        {tab === 'stats' && <StatsTab fn={fn} />}
        {!TABS.some(([t]) => t === tab) && <p>No such page of a function.</p>}
      </div>
    </section>
  );
}
