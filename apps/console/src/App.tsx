import { useEffect, useState } from 'react';
import { onUnauthorized, storedKey, storeKey } from './api';
import { Link, navigate, useRoute } from './router';
import { Login } from './pages/Login';
import { FunctionList } from './pages/FunctionList';
import { NewFunction } from './pages/NewFunction';
import { FunctionDetail } from './pages/FunctionDetail';
import { LiveEvents } from './pages/LiveEvents';

export function App() {
  const [key, setKey] = useState(storedKey);
  const [expired, setExpired] = useState(false);
  const route = useRoute();

  useEffect(
    () =>
      onUnauthorized(() => {
        storeKey(null);
        setExpired(true);
        setKey(null);
      }),
    [],
  );

  if (!key)
    return (
      <Login
        expired={expired}
        onLogin={(k) => {
          storeKey(k);
          setExpired(false);
          setKey(k);
        }}
      />
    );

  const fn = /^\/functions\/([^/]+)(?:\/([a-z]+))?\/?$/.exec(route);
  let page;
  let title;
  if (route === '/' || route === '') {
    page = <FunctionList />;
    title = 'Functions';
  } else if (route === '/new') {
    page = <NewFunction />;
    title = 'New function';
  } else if (route === '/events') {
    page = <LiveEvents />;
    title = 'Live events';
  } else if (fn) {
    page = <FunctionDetail id={decodeURIComponent(fn[1])} tab={fn[2] ?? 'code'} />;
    title = 'Function';
  } else {
    page = (
      <p>
        No such page. <Link to="/">Back to the functions</Link>
      </p>
    );
    title = 'Not found';
  }
  document.title = `${title} · hks console`;

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/" className="brand">
          hks console
        </Link>
        <nav aria-label="Main">
          <Link to="/" aria-current={route === '/' ? 'page' : undefined}>
            Functions
          </Link>
          <Link to="/new" aria-current={route === '/new' ? 'page' : undefined}>
            New function
          </Link>
          <Link to="/events" aria-current={route === '/events' ? 'page' : undefined}>
            Live events
          </Link>
        </nav>
        <button
          type="button"
          className="secondary"
          onClick={() => {
            storeKey(null);
            setKey(null);
            navigate('/');
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}
