import { FormEvent, useEffect, useState } from 'react';
import { api, FunctionView } from '../api';
import { CodeEditor } from '../components/CodeEditor';
import { ErrorText } from '../components/ErrorText';
import { sampleHandler } from '../components/samples';
import { navigate } from '../router';

interface RuntimeView {
  name: string;
  title: string;
  aliases: string[];
  defaultVersion: string | null;
}

/** Creates a function from a label, a runtime and its handler code (POST /api/v1/functions); the API's 400 shows here. */
export function NewFunction() {
  const [label, setLabel] = useState('');
  const [runtime, setRuntime] = useState('node');
  const [description, setDescription] = useState('');
  const [code, setCode] = useState(sampleHandler('node'));
  const [edited, setEdited] = useState(false);
  const [runtimes, setRuntimes] = useState<RuntimeView[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api<RuntimeView[]>('GET', '/api/v1/runtimes').then(setRuntimes, setError);
  }, []);

  function pickRuntime(r: string) {
    setRuntime(r);
    if (!edited) setCode(sampleHandler(r));
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const f = await api<FunctionView>('POST', '/api/v1/functions', { label: label.trim(), runtime, handler: code, ...(description ? { description } : {}) });
      navigate(`/functions/${f.id}/build`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const message = (error as Error | null)?.message ?? '';
  const labelWrong = /\blabel\b/i.test(message);
  return (
    <section aria-labelledby="new-title">
      <h1 id="new-title">New function</h1>
      <form onSubmit={(e) => void submit(e)} className="stack">
        <div className="row top">
          <div className="field">
            <label htmlFor="label">Label</label>
            <input
              id="label"
              value={label}
              onChange={(e) => setLabel(e.target.value)}
              required
              aria-describedby={labelWrong ? 'label-error label-help' : 'label-help'}
              aria-invalid={labelWrong || undefined}
            />
            <span id="label-help" className="hint">
              Lower-case letters, digits and dashes; it names the function in /fn/&lt;label&gt;.
            </span>
            {labelWrong && (
              <span className="error field-error" id="label-error">
                {message}
              </span>
            )}
          </div>
          <div className="field">
            <label htmlFor="runtime">Runtime</label>
            <select id="runtime" value={runtime} onChange={(e) => pickRuntime(e.target.value)}>
              {(runtimes.length ? runtimes : [{ name: 'node', title: 'Node.js', aliases: [], defaultVersion: null }]).flatMap((r) =>
                [r.name, ...r.aliases.filter((a) => a !== r.name)].map((n) => (
                  <option key={n} value={n}>
                    {n === r.name ? `${r.title} (${n}${r.defaultVersion ? ` ${r.defaultVersion}` : ''})` : `  ${n}`}
                  </option>
                )),
              )}
            </select>
          </div>
          <div className="field grow">
            <label htmlFor="description">Description (optional)</label>
            <input id="description" value={description} onChange={(e) => setDescription(e.target.value)} />
          </div>
        </div>
        <div className="field">
          <span className="label" id="code-label">
            Handler code
          </span>
          <CodeEditor
            id="new-code"
            label="Handler code"
            language={runtime}
            value={code}
            onChange={(v) => {
              setEdited(true);
              setCode(v);
            }}
          />
        </div>
        {!labelWrong && <ErrorText error={error} id="create-error" />}
        <div>
          <button type="submit" disabled={busy}>
            {busy ? 'Creating…' : 'Create function'}
          </button>
        </div>
      </form>
    </section>
  );
}
