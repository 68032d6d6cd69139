import { FormEvent, useState } from 'react';
import { api, ApiError } from '../api';
import { ErrorText } from '../components/ErrorText';

/** Asks for an API key and checks it against the API before keeping it (sessionStorage: gone with the tab). */
export function Login({ onLogin, expired }: { onLogin: (key: string) => void; expired: boolean }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('GET', '/api/v1/functions?limit=1', undefined, key.trim());
      onLogin(key.trim());
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 403 ? new ApiError(403, 'This key may only invoke functions; the console needs an admin key', null) : err,
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" className="login">
      <h1>hks console</h1>
      <form onSubmit={(e) => void submit(e)} aria-describedby="login-help">
        <p id="login-help">
          Sign in with an admin API key: <code>scripts/start</code> wrote one to <code>HKS_DATA_DIR/admin-key</code>, and <code>hks keys create</code> makes
          more. It is kept in this tab only.
        </p>
        {expired && <p className="error">The API refused the key (revoked or unknown): sign in again.</p>}
        <label htmlFor="api-key">API key</label>
        <input id="api-key" type="password" autoComplete="off" required value={key} onChange={(e) => setKey(e.target.value)} autoFocus />
        <ErrorText error={error} />
        <button type="submit" disabled={busy || !key.trim()}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
