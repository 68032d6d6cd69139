import { useCallback, useEffect, useRef, useState } from 'react';
import { api, BuildView, FunctionView } from '../api';
import { ErrorText } from '../components/ErrorText';
import { StatusBadge, when } from '../components/format';

const DONE = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

interface Deployment {
  status: string;
  version: number;
  url?: string;
  reason?: string | null;
}

/**
 * Build the current version and deploy it. The build log streams in as the builder writes it: the build's view
 * (GET .../builds/{buildId}) carries the log so far, read every half second until the build ends.
 */
export function BuildTab({ fn, onChanged }: { fn: FunctionView; onChanged: () => Promise<void> }) {
  const [build, setBuild] = useState<BuildView | null>(null);
  const [history, setHistory] = useState<BuildView[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [deployError, setDeployError] = useState<unknown>(null);
  const [deployment, setDeployment] = useState<Deployment | null>(null);
  const [busy, setBusy] = useState<'build' | 'deploy' | null>(null);
  const following = useRef<string | null>(null);
  const logEnd = useRef<HTMLPreElement>(null);

  const follow = useCallback(
    async (buildId: string): Promise<BuildView | null> => {
      following.current = buildId;
      for (;;) {
        let b: BuildView;
        try {
          b = await api<BuildView>('GET', `/api/v1/functions/${fn.id}/builds/${buildId}`);
        } catch (err) {
          setError(err);
          return null;
        }
        if (following.current !== buildId) return null;
        setBuild(b);
        if (DONE.has(b.status)) return b;
        await new Promise((r) => setTimeout(r, 500));
      }
    },
    [fn.id],
  );

  useEffect(() => {
    api<BuildView[]>('GET', `/api/v1/functions/${fn.id}/builds`).then(setHistory, setError);
    if (fn.build) void follow(fn.build.id);
    return () => {
      following.current = null;
    };
    // Follow the build the function names when the page opens; later builds are followed by startBuild.
  }, [fn.id]);

  useEffect(() => {
    const pre = logEnd.current;
    if (pre) pre.scrollTop = pre.scrollHeight;
  }, [build?.log]);

  async function startBuild(thenDeploy: boolean) {
    setBusy('build');
    setError(null);
    setDeployError(null);
    setDeployment(null);
    try {
      const f = await api<FunctionView>('POST', `/api/v1/functions/build/${fn.id}`);
      if (!f.build) throw new Error('the API answered without a build to follow');
      setBuild(null);
      const done = await follow(f.build.id);
      api<BuildView[]>('GET', `/api/v1/functions/${fn.id}/builds`).then(setHistory, setError);
      await onChanged();
      if (thenDeploy && done?.status === 'SUCCEEDED') await deploy();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  }

  async function deploy() {
    setBusy('deploy');
    setDeployError(null);
    try {
      setDeployment(await api<Deployment>('POST', `/api/v1/functions/deploy/${fn.id}`));
    } catch (err) {
      setDeployError(err);
    } finally {
      setBusy(null);
      await onChanged();
    }
  }

  return (
    <div className="stack">
      <div className="actions">
        <button type="button" onClick={() => void startBuild(true)} disabled={busy !== null}>
          Build and deploy v{fn.version}
        </button>
        <button type="button" className="secondary" onClick={() => void startBuild(false)} disabled={busy !== null}>
          Build only
        </button>
        <button type="button" className="secondary" onClick={() => void deploy()} disabled={busy !== null}>
          Deploy last build
        </button>
        <span role="status" className="muted">
          {busy === 'build' ? 'Building…' : busy === 'deploy' ? 'Deploying…' : ''}
        </span>
      </div>
      <ErrorText error={error} id="build-error" />
      {build && (
        <section aria-labelledby="log-title">
          <h2 id="log-title">
            Build of v{build.version} <StatusBadge status={build.status} /> {build.cached && <span className="muted">(reused an equal earlier build)</span>}
          </h2>
          {build.error && <p className="error">{build.error}</p>}
          <pre className="log" ref={logEnd} aria-live="polite" aria-label="Build log" tabIndex={0} data-testid="build-log">
            {build.log || '(no output yet)'}
          </pre>
        </section>
      )}
      <section aria-labelledby="deploy-title">
        <h2 id="deploy-title">Deployment</h2>
        <ErrorText error={deployError} id="deploy-error" />
        {deployment ? (
          <p data-testid="deployment">
            <StatusBadge status={deployment.status} /> version {deployment.version}
            {deployment.url && (
              <>
                {' '}
                at <code>{deployment.url}</code>
              </>
            )}
            {deployment.reason && <span className="muted"> {deployment.reason}</span>}
          </p>
        ) : (
          <p className="muted">Status: {fn.status}</p>
        )}
      </section>
      {history.length > 0 && (
        <section aria-labelledby="builds-title">
          <h2 id="builds-title">Builds</h2>
          <table className="list compact">
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Status</th>
                <th scope="col">Started</th>
                <th scope="col">Finished</th>
                <th scope="col">Log</th>
              </tr>
            </thead>
            <tbody>
              {history.map((b) => (
                <tr key={b.id}>
                  <td>v{b.version}</td>
                  <td>
                    <StatusBadge status={b.status} />
                  </td>
                  <td>{when(b.startedAt)}</td>
                  <td>{when(b.finishedAt)}</td>
                  <td>
                    <button type="button" className="link" onClick={() => void follow(b.id)}>
                      Show log of v{b.version}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </div>
  );
}
