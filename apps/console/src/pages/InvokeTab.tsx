import { FormEvent, useState } from 'react';
import { FunctionView, invoke, InvokeAnswer } from '../api';
import { CodeEditor } from '../components/CodeEditor';
import { ErrorText } from '../components/ErrorText';

const pretty = (text: string) => {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
};

/** Calls the function through the invoke API ({"data": ...}) and shows the status, headers, duration and cold start. */
export function InvokeTab({ fn }: { fn: FunctionView }) {
  const [payload, setPayload] = useState('{\n  "data": { "name": "Alice" }\n}\n');
  const [method, setMethod] = useState('POST');
  const [answer, setAnswer] = useState<InvokeAnswer | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function send(e: FormEvent) {
    e.preventDefault();
    setError(null);
    if (method === 'POST') {
      try {
        JSON.parse(payload);
      } catch (err) {
        setError(new Error(`The payload is not JSON: ${(err as Error).message}`));
        return;
      }
    }
    setBusy(true);
    try {
      setAnswer(await invoke(fn.id, method, payload));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const header = (name: string) => answer?.headers.find(([k]) => k === name)?.[1];
  return (
    <div className="two-col">
      <form onSubmit={(e) => void send(e)} className="stack">
        <div className="row">
          <div className="field">
            <label htmlFor="method">Method</label>
            <select id="method" value={method} onChange={(e) => setMethod(e.target.value)}>
              <option>POST</option>
              <option>GET</option>
            </select>
          </div>
          <p className="muted">
            POST /api/v1/functions/invoke/{fn.label}: the handler gets <code>data</code>.
          </p>
        </div>
        <span className="label">Payload (JSON)</span>
        <CodeEditor id="payload" label="Payload (JSON)" language="json" value={payload} onChange={setPayload} minHeight="12rem" />
        <ErrorText error={error} id="invoke-error" />
        <div>
          <button type="submit" disabled={busy}>
            {busy ? 'Invoking…' : 'Invoke'}
          </button>
        </div>
      </form>
      <section aria-labelledby="response-title" aria-live="polite">
        <h2 id="response-title">Response</h2>
        {!answer && <p className="muted">Invoke the function to see its answer here.</p>}
        {answer && (
          <>
            <dl className="facts" data-testid="invoke-result">
              <dt>Status</dt>
              <dd data-testid="invoke-status" className={answer.status < 400 ? 'ok' : 'error'}>
                {answer.status}
              </dd>
              <dt>Duration</dt>
              <dd data-testid="invoke-duration">
                {header('x-duration-ms') ? `${header('x-duration-ms')} ms in the function, ` : ''}
                {answer.durationMs.toFixed(1)} ms round trip
              </dd>
              <dt>Cold start</dt>
              <dd data-testid="invoke-cold">{header('x-cold-start') ?? '–'}</dd>
              <dt>Version</dt>
              <dd>{header('x-function-version') ?? '–'}</dd>
              <dt>Invocation</dt>
              <dd>
                <code>{header('x-invocation-id') ?? '–'}</code>
              </dd>
            </dl>
            <h3>Body</h3>
            <pre className="log" data-testid="invoke-body" tabIndex={0}>
              {pretty(answer.body)}
            </pre>
            <h3>Headers</h3>
            <table className="list compact">
              <tbody>
                {answer.headers.map(([k, v]) => (
                  <tr key={k}>
                    <th scope="row">{k}</th>
                    <td>
                      <code>{v}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </section>
    </div>
  );
}
