import { Fragment, useEffect, useState } from 'react';
import { api, FunctionPage, StreamedEvent, streamEvents } from '../api';
import { ErrorText } from '../components/ErrorText';
import { StatusBadge } from '../components/format';

interface StoredEvent {
  id: string;
  type: string;
  name?: string;
  status: StreamedEvent['status'];
  timestamp: string;
  functionId: string | null;
  invocationId: string | null;
  payload: unknown;
  response: unknown;
  processingTimeMs: number | null;
  error: string | null;
  metadata: Record<string, unknown> | null;
}

/** One row of the view: an event from the stream, or one stored before the page opened. */
interface Row {
  id: string;
  type: string;
  status: StreamedEvent['status'];
  time: string;
  functionLabel?: string;
  functionId?: string;
  invocationId?: string;
  durationMs: number | null;
  error: string | null;
  logs: string;
  payload: unknown;
  response: unknown;
  live: boolean;
}

const logsOf = (metadata: Record<string, unknown> | null): string => {
  const logs = metadata?.logs;
  if (typeof logs === 'string') return logs;
  if (Array.isArray(logs)) return logs.map(String).join('\n');
  return '';
};

const fromStream = (e: StreamedEvent): Row => ({
  id: e.id,
  type: e.type.replace(/^dev\.hks\./, ''),
  status: e.status,
  time: e.time,
  functionLabel: e.subject,
  functionId: e.functionid,
  invocationId: e.invocationid,
  durationMs: e.data?.processingTimeMs ?? null,
  error: e.data?.error ?? null,
  logs: logsOf(e.data?.metadata ?? null),
  payload: e.data?.payload,
  response: e.data?.response,
  live: true,
});

const fromStore = (e: StoredEvent): Row => ({
  id: e.id,
  type: e.name ?? e.type,
  status: e.status,
  time: e.timestamp,
  functionId: e.functionId ?? undefined,
  invocationId: e.invocationId ?? undefined,
  durationMs: e.processingTimeMs,
  error: e.error,
  logs: logsOf(e.metadata),
  payload: e.payload,
  response: e.response,
  live: false,
});

const MAX_ROWS = 200;

/** Invocations and events as they happen (the SSE stream), newest first, with each invocation's logs. */
export function EventsView({ functionId }: { functionId?: string }) {
  const [rows, setRows] = useState<Row[]>([]);
  const [state, setState] = useState<{ state: string; error?: string }>({ state: 'connecting' });
  const [error, setError] = useState<unknown>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [status, setStatus] = useState('');
  const [type, setType] = useState('');
  const [paused, setPaused] = useState(false);
  /** Function labels by id, for the events that name only the id (the stored ones, the platform's own). */
  const [labels, setLabels] = useState<Record<string, string>>({});

  useEffect(() => {
    if (functionId) return;
    api<FunctionPage>('GET', '/api/v1/functions?limit=200').then((page) => setLabels(Object.fromEntries(page.items.map((f) => [f.id, f.label]))), setError);
  }, [functionId]);

  useEffect(() => {
    const abort = new AbortController();
    const qs = new URLSearchParams({ limit: '20', ...(functionId ? { functionId } : {}), ...(status ? { status } : {}) });
    api<{ items: StoredEvent[] }>('GET', `/api/v3/events?${qs.toString()}`).then(
      (page) => setRows((r) => [...r.filter((x) => x.live), ...page.items.map(fromStore)]),
      setError,
    );
    void streamEvents(
      { ...(functionId ? { functionId } : {}), ...(status ? { status } : {}) },
      (e) => setRows((r) => (r.some((x) => x.id === e.id) ? r : [fromStream(e), ...r].slice(0, MAX_ROWS))),
      (s, err) => setState({ state: s, error: err }),
      abort.signal,
    );
    return () => abort.abort();
  }, [functionId, status]);

  const shown = rows.filter((r) => !type || r.type.includes(type));
  const [frozen, setFrozen] = useState<Row[]>([]);
  const visible = paused ? frozen : shown;

  return (
    <section aria-labelledby="events-title" className="stack">
      <div className="title-row">
        <h2 id="events-title">{functionId ? 'Live invocations and events' : 'All events, live'}</h2>
        <span className={`badge ${state.state === 'open' ? 'ok' : 'busy'}`} role="status" data-testid="stream-state">
          {state.state === 'open' ? 'live' : state.state}
        </span>
        {state.error && state.state !== 'open' && <span className="muted">{state.error}</span>}
      </div>
      <div className="row">
        <div className="field">
          <label htmlFor="ev-status">Status</label>
          <select id="ev-status" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">any</option>
            <option>PENDING</option>
            <option>SUCCESS</option>
            <option>FAILURE</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="ev-type">Type contains</label>
          <input id="ev-type" value={type} onChange={(e) => setType(e.target.value)} placeholder="invocation" />
        </div>
        <label className="check">
          <input
            type="checkbox"
            checked={paused}
            onChange={(e) => {
              setFrozen(shown);
              setPaused(e.target.checked);
            }}
          />{' '}
          Pause the list
        </label>
        <button type="button" className="secondary" onClick={() => setRows([])}>
          Clear
        </button>
      </div>
      <ErrorText error={error} />
      <table className="list compact" data-testid="events">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Type</th>
            <th scope="col">Status</th>
            {!functionId && <th scope="col">Function</th>}
            <th scope="col">Invocation</th>
            <th scope="col" className="num">
              ms
            </th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {visible.length === 0 && (
            <tr>
              <td colSpan={7} className="muted">
                Nothing yet: invoke the function and its invocation appears here as it happens.
              </td>
            </tr>
          )}
          {visible.map((r) => (
            <Fragment key={r.id}>
              <tr className={r.live ? 'live' : undefined} data-type={r.type} data-status={r.status}>
                <td>{new Date(r.time).toLocaleTimeString()}</td>
                <td>{r.type}</td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                {!functionId && <td>{r.functionLabel ?? (r.functionId ? (labels[r.functionId] ?? r.functionId.slice(0, 8)) : '–')}</td>}
                <td>
                  <code>{r.invocationId ? r.invocationId.slice(0, 8) : '–'}</code>
                </td>
                <td className="num">{r.durationMs ?? '–'}</td>
                <td>
                  <button
                    type="button"
                    className="link"
                    aria-expanded={open === r.id}
                    aria-controls={`ev-${r.id}`}
                    onClick={() => setOpen(open === r.id ? null : r.id)}
                  >
                    {r.logs ? 'Logs and response' : 'Details'}
                  </button>
                </td>
              </tr>
              {open === r.id && (
                <tr id={`ev-${r.id}`}>
                  <td colSpan={7}>
                    <div className="details">
                      {r.error && <p className="error">{r.error}</p>}
                      <h3>Logs</h3>
                      <pre className="log small" data-testid="event-logs">
                        {r.logs || '(no logs)'}
                      </pre>
                      <h3>Payload</h3>
                      <pre className="log small">{JSON.stringify(r.payload, null, 2) ?? 'null'}</pre>
                      <h3>Response</h3>
                      <pre className="log small">{JSON.stringify(r.response, null, 2) ?? 'null'}</pre>
                    </div>
                  </td>
                </tr>
              )}
            </Fragment>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function LiveEvents() {
  return <EventsView />;
}
