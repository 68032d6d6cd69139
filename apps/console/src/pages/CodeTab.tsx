import { FormEvent, useState } from 'react';
import { api, ApiError, FunctionConfig, FunctionView } from '../api';
import { CodeEditor } from '../components/CodeEditor';
import { ErrorText } from '../components/ErrorText';

/** The config fields the form edits, as text, and where in the config each goes. */
const NUMBERS = [
  ['memoryMb', 'resources', 'Memory (MB)'],
  ['timeoutMs', 'resources', 'Timeout (ms)'],
  ['minInstances', 'scaling', 'Min instances'],
  ['maxInstances', 'scaling', 'Max instances'],
  ['concurrency', 'scaling', 'Concurrency per instance'],
  ['idleTimeoutMs', 'scaling', 'Idle timeout (ms)'],
] as const;
type NumberField = (typeof NUMBERS)[number][0];
type Field = NumberField | 'handler' | 'description' | 'env' | 'secrets' | 'triggers';

const envText = (env: Record<string, string> = {}) =>
  Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
const secretsText = (s: FunctionConfig['secrets'] = []) => s.map((r) => `${r.env}=${r.secret}${r.key ? `:${r.key}` : ''}`).join('\n');

/** Which field an API message is about: the field names the platform's validation messages use. */
export function fieldOfMessage(message: string): Field | undefined {
  for (const [name] of NUMBERS) if (message.includes(name)) return name;
  if (/\bsecrets?\b/.test(message)) return 'secrets';
  if (/\benv\b/.test(message)) return 'env';
  if (/trigger/.test(message)) return 'triggers';
  if (/\bhandler\b|code/.test(message)) return 'handler';
  if (/description/.test(message)) return 'description';
  return undefined;
}

/**
 * The handler in a code editor and the config in a form (resources, scaling, env, secret references, triggers).
 * The form checks what it can (numbers, KEY=value lines, trigger JSON); the API checks the rest, and its 400 is
 * shown next to the field it names, and above the save button.
 */
export function CodeTab({ fn, onSaved }: { fn: FunctionView; onSaved: (f: FunctionView) => void }) {
  const files = fn.files ?? null;
  const fileNames = files ? Object.keys(files) : [];
  const [file, setFile] = useState(fileNames[0] ?? '');
  const [code, setCode] = useState(fn.handler ?? '');
  const [fileCode, setFileCode] = useState<Record<string, string>>(files ?? {});
  const [description, setDescription] = useState(fn.description ?? '');
  const [numbers, setNumbers] = useState<Record<NumberField, string>>(
    () =>
      Object.fromEntries(NUMBERS.map(([name, group]) => [name, String((fn.config[group] as Record<string, unknown> | undefined)?.[name] ?? '')])) as Record<
        NumberField,
        string
      >,
  );
  const [env, setEnv] = useState(envText(fn.config.env));
  const [secrets, setSecrets] = useState(secretsText(fn.config.secrets));
  const [triggers, setTriggers] = useState(JSON.stringify(fn.config.triggers ?? [], null, 2));
  const [problems, setProblems] = useState<Partial<Record<Field, string>>>({});
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  /** The config as the API takes it, or the problems the form found. */
  function configOf(): { config?: FunctionConfig; found: Partial<Record<Field, string>> } {
    const found: Partial<Record<Field, string>> = {};
    const config: FunctionConfig = structuredClone(fn.config);
    for (const [name, group, title] of NUMBERS) {
      const text = numbers[name].trim();
      const target = { ...((config[group] as Record<string, unknown> | undefined) ?? {}) };
      if (text === '') delete target[name];
      else if (!/^\d+$/.test(text)) found[name] = `${title} must be a whole number`;
      else target[name] = Number(text);
      config[group] = target;
    }
    const envMap: Record<string, string> = {};
    for (const [i, line] of env.split('\n').entries()) {
      if (!line.trim()) continue;
      const eq = line.indexOf('=');
      if (eq <= 0) found.env = `line ${i + 1} must be NAME=value`;
      else envMap[line.slice(0, eq).trim()] = line.slice(eq + 1);
    }
    config.env = envMap;
    const refs: NonNullable<FunctionConfig['secrets']> = [];
    for (const [i, line] of secrets.split('\n').entries()) {
      if (!line.trim()) continue;
      const m = /^\s*([^=\s]+)\s*=\s*([^:\s]+)(?::(\S+))?\s*$/.exec(line);
      if (!m) found.secrets = `line ${i + 1} must be ENV_NAME=secret-name or ENV_NAME=secret-name:key`;
      else refs.push({ env: m[1], secret: m[2], ...(m[3] ? { key: m[3] } : {}) });
    }
    config.secrets = refs;
    try {
      const parsed: unknown = JSON.parse(triggers || '[]');
      if (!Array.isArray(parsed)) found.triggers = 'triggers must be a JSON array, e.g. [{"type": "http"}]';
      else config.triggers = parsed as FunctionConfig['triggers'];
    } catch (err) {
      found.triggers = `not JSON: ${(err as Error).message}`;
    }
    return Object.keys(found).length ? { found } : { config, found };
  }

  async function save(e: FormEvent) {
    e.preventDefault();
    setSaved(null);
    setError(null);
    const { config, found } = configOf();
    setProblems(found);
    if (!config) return;
    setBusy(true);
    try {
      const changes = files ? { handler: fn.handler ?? undefined, files: fileCode, config, description } : { handler: code, config, description };
      const f = await api<FunctionView>('PUT', `/api/v1/functions/${fn.id}`, changes);
      setSaved(f.version !== fn.version ? `Saved as version ${f.version}: build and deploy it to run it.` : 'Saved (nothing changed that needs a build).');
      onSaved(f);
    } catch (err) {
      setError(err);
      const field = err instanceof ApiError ? fieldOfMessage(err.message) : undefined;
      if (field) setProblems({ [field]: err instanceof ApiError ? `${err.status}: ${err.message}` : String(err) });
    } finally {
      setBusy(false);
    }
  }

  const problem = (f: Field) =>
    problems[f] ? (
      <span className="error field-error" id={`${f}-error`} role="alert">
        {problems[f]}
      </span>
    ) : null;
  const invalid = (f: Field) => ({ 'aria-invalid': problems[f] ? true : undefined, 'aria-describedby': problems[f] ? `${f}-error` : undefined });

  return (
    <form className="code-layout" onSubmit={(e) => void save(e)} noValidate>
      <div className="code-pane">
        {files ? (
          <>
            <label htmlFor="file">File</label>{' '}
            <select id="file" value={file} onChange={(e) => setFile(e.target.value)}>
              {fileNames.map((n) => (
                <option key={n}>{n}</option>
              ))}
            </select>
            <CodeEditor
              id="code"
              label={`Code of ${file}`}
              language={
                file.endsWith('.json')
                  ? 'json'
                  : /\.py$/.test(file)
                    ? 'python'
                    : /\.go$/.test(file)
                      ? 'go'
                      : /\.java$/.test(file)
                        ? 'java'
                        : /\.ts$/.test(file)
                          ? 'ts'
                          : fn.runtime
              }
              value={fileCode[file] ?? ''}
              onChange={(v) => setFileCode((c) => ({ ...c, [file]: v }))}
              minHeight="26rem"
            />
          </>
        ) : (
          <>
            <span className="label">Handler code ({fn.runtime})</span>
            <CodeEditor id="code" label="Handler code" language={fn.runtime} value={code} onChange={setCode} minHeight="26rem" />
          </>
        )}
        {problem('handler')}
      </div>
      <fieldset className="config-pane">
        <legend>Config</legend>
        <div className="field">
          <label htmlFor="description">Description</label>
          <input id="description" value={description} onChange={(e) => setDescription(e.target.value)} {...invalid('description')} />
          {problem('description')}
        </div>
        <div className="grid2">
          {NUMBERS.map(([name, group, title]) => (
            <div className="field" key={name}>
              <label htmlFor={name}>{title}</label>
              <input
                id={name}
                name={`${group}.${name}`}
                inputMode="numeric"
                value={numbers[name]}
                onChange={(e) => setNumbers((n) => ({ ...n, [name]: e.target.value }))}
                {...invalid(name)}
              />
              {problem(name)}
            </div>
          ))}
        </div>
        <div className="field">
          <label htmlFor="env">Environment (NAME=value, one a line)</label>
          <textarea id="env" rows={3} value={env} onChange={(e) => setEnv(e.target.value)} spellCheck={false} {...invalid('env')} />
          {problem('env')}
        </div>
        <div className="field">
          <label htmlFor="secrets">Secret references (ENV_NAME=secret[:key], one a line)</label>
          <textarea id="secrets" rows={2} value={secrets} onChange={(e) => setSecrets(e.target.value)} spellCheck={false} {...invalid('secrets')} />
          {problem('secrets')}
        </div>
        <div className="field">
          <label htmlFor="triggers">Triggers (JSON array)</label>
          <textarea id="triggers" rows={4} value={triggers} onChange={(e) => setTriggers(e.target.value)} spellCheck={false} {...invalid('triggers')} />
          {problem('triggers')}
        </div>
        <ErrorText error={error} id="save-error" />
        {saved && (
          <p className="ok" role="status">
            {saved}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : 'Save'}
        </button>
      </fieldset>
    </form>
  );
}
