import type { Trigger } from '@platform/contracts';
import { EveryVersionRoutes, HttpRoutes, parsePath, RouteDecision } from './http-routes';

const ID = '6f1c2d3e-0000-4000-8000-000000000001';
const routes = (...triggers: Trigger[]) => HttpRoutes.of('x', ID, triggers);
const status = (d: RouteDecision) => (d.serve ? (d.open ? 'open' : 'keyed') : d.body.statusCode);

describe('HttpRoutes: what /fn/{label}{path} serves, by the http triggers', () => {
  it('serves any method and path with a key when the function has no triggers at all', () => {
    for (const r of [HttpRoutes.of('x', ID, undefined), routes()]) {
      expect(r.decide('DELETE', '/any/thing/..')).toEqual({ serve: true, open: false });
      expect(r.decide('GET', '')).toEqual({ serve: true, open: false });
      expect(r.public).toBe(false);
    }
  });

  it('serves nothing on /fn/ when the function has triggers but none of kind http, and says how to invoke it', () => {
    const d = routes({ type: 'schedule', cron: '* * * * *' }, { type: 'nats', subject: 's' }).decide('GET', '/');
    expect(d.serve).toBe(false);
    if (d.serve) return;
    expect(d.body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: `Function x is not served on /fn/: it has no http trigger (its triggers: schedule, nats). Invoke it with POST /api/v1/functions/invoke/${ID}, or through its triggers`,
    });
  });

  it('serves any path and method with a key for an http trigger that names neither', () => {
    const r = routes({ type: 'http' });
    expect(status(r.decide('PATCH', '/a/b/c'))).toBe('keyed');
    expect(status(r.decide('GET', ''))).toBe('keyed');
  });

  it('matches an exact path, with or without a trailing slash, and nothing else', () => {
    const r = routes({ type: 'http', path: '/hello' });
    expect(status(r.decide('GET', '/hello'))).toBe('keyed');
    expect(status(r.decide('GET', '/hello/'))).toBe('keyed');
    expect(status(r.decide('GET', '/hello/x'))).toBe(404);
    expect(status(r.decide('GET', '/Hello'))).toBe(404);
    expect(status(r.decide('GET', ''))).toBe(404);
    expect(status(r.decide('GET', '/hell'))).toBe(404);
    // A trigger path written with a trailing slash is the same path.
    expect(status(routes({ type: 'http', path: '/hello/' }).decide('GET', '/hello'))).toBe('keyed');
  });

  it('takes "/" as the function root: /fn/x and /fn/x/', () => {
    const r = routes({ type: 'http', path: '/' });
    expect(status(r.decide('GET', ''))).toBe('keyed');
    expect(status(r.decide('GET', '/'))).toBe('keyed');
    expect(status(r.decide('GET', '/a'))).toBe(404);
  });

  it('matches the decoded segments, so an encoded letter is the same path', () => {
    const r = routes({ type: 'http', path: '/café/menu' });
    expect(status(r.decide('GET', '/caf%C3%A9/menu'))).toBe('keyed');
    expect(status(r.decide('GET', '/caf%C3%A9/m%65nu'))).toBe('keyed');
    expect(status(routes({ type: 'http', path: '/caf%C3%A9' }).decide('GET', '/café'))).toBe('keyed');
  });

  it('matches {name} to exactly one non-empty segment', () => {
    const r = routes({ type: 'http', path: '/items/{id}/parts' });
    expect(status(r.decide('GET', '/items/42/parts'))).toBe('keyed');
    expect(status(r.decide('GET', '/items/a%20b/parts'))).toBe('keyed');
    expect(status(r.decide('GET', '/items/42/7/parts'))).toBe(404);
    expect(status(r.decide('GET', '/items//parts'))).toBe(404);
    expect(status(r.decide('GET', '/items/parts'))).toBe(404);
  });

  it('matches everything below a trailing /*, and the path itself', () => {
    const r = routes({ type: 'http', path: '/static/*' });
    for (const p of ['/static', '/static/', '/static/a', '/static/a/b/c.png']) expect([p, status(r.decide('GET', p))]).toEqual([p, 'keyed']);
    for (const p of ['/', '', '/staticx', '/other/static/a']) expect([p, status(r.decide('GET', p))]).toEqual([p, 404]);
    const all = routes({ type: 'http', path: '/*' });
    for (const p of ['', '/', '/a/b']) expect(status(all.decide('GET', p))).toBe('keyed');
    expect(status(routes({ type: 'http', path: '/u/{user}/*' }).decide('GET', '/u/ann/files/a'))).toBe('keyed');
  });

  it('answers 404 naming the function and the paths it serves', () => {
    const d = routes({ type: 'http', path: '/hello', methods: ['GET'] }, { type: 'http', path: '/items/{id}' }, { type: 'http', path: '/hello' }).decide(
      'POST',
      '/other',
    );
    expect(d).toEqual({
      serve: false,
      body: { statusCode: 404, error: 'Not Found', message: 'Function x has no http trigger for the path /other: it serves /fn/x/hello, /fn/x/items/{id}' },
      headers: {},
    });
  });

  it('answers 405 with Allow when the path is served but not the method; HEAD goes with GET', () => {
    const r = routes(
      { type: 'http', path: '/hello', methods: ['get'] },
      { type: 'http', path: '/hello', methods: ['PUT'] },
      { type: 'http', path: '/x', methods: ['POST'] },
    );
    expect(status(r.decide('GET', '/hello'))).toBe('keyed');
    expect(status(r.decide('HEAD', '/hello'))).toBe('keyed');
    expect(status(r.decide('PUT', '/hello'))).toBe('keyed');
    expect(r.decide('DELETE', '/hello')).toEqual({
      serve: false,
      body: { statusCode: 405, error: 'Method Not Allowed', message: 'Function x does not take DELETE on /hello: it takes GET, HEAD, PUT' },
      headers: { allow: 'GET, HEAD, PUT' },
    });
    // OPTIONS is a method like the others: the function takes it only when a trigger says so.
    expect(status(r.decide('OPTIONS', '/hello'))).toBe(405);
    expect(status(routes({ type: 'http', methods: ['HEAD'] }).decide('GET', '/'))).toBe(405);
  });

  it('applies the auth of the trigger that takes the request: none is open, api-key and required need a key', () => {
    const r = routes(
      { type: 'http', path: '/public/*', methods: ['GET'], auth: 'none' },
      { type: 'http', path: '/public/upload', methods: ['POST'], auth: 'required' },
      { type: 'http', path: '/admin', auth: 'api-key' },
    );
    expect(r.public).toBe(true);
    expect(r.decide('GET', '/public/a.css')).toEqual({ serve: true, open: true });
    expect(r.decide('GET', '/public/upload')).toEqual({ serve: true, open: true });
    expect(r.decide('POST', '/public/upload')).toEqual({ serve: true, open: false });
    expect(r.decide('GET', '/admin')).toEqual({ serve: true, open: false });
    expect(status(r.decide('DELETE', '/public/upload'))).toBe(405);
    // When two triggers take the same request, the open one decides.
    const both = routes({ type: 'http', path: '/a', auth: 'required' }, { type: 'http', path: '/a', methods: ['GET'], auth: 'none' });
    expect(status(both.decide('GET', '/a'))).toBe('open');
    expect(status(both.decide('POST', '/a'))).toBe('keyed');
    expect(routes({ type: 'http', auth: 'required' }).public).toBe(false);
  });

  it('refuses (400) a path with dot segments or an encoded "/" or "\\" when a trigger names a path', () => {
    const r = routes({ type: 'http', path: '/public/*', auth: 'none' });
    for (const p of [
      '/public/../admin',
      '/public/%2e%2e/admin',
      '/public/%2E',
      '/public/./a',
      '/public/..%2Fadmin',
      '/public/a%5Cb',
      '/public/a\\b',
      '/public/%E0%A4%A',
    ]) {
      const d = r.decide('GET', p);
      expect([p, status(d)]).toEqual([p, 400]);
    }
    // Without a path in any trigger the path is not looked at: the function gets it as today.
    expect(status(routes({ type: 'http', methods: ['GET'] }).decide('GET', '/../a'))).toBe('keyed');
  });
});

describe('parsePath', () => {
  it('gives the decoded segments; a trailing slash does not count, an empty segment inside does', () => {
    expect(parsePath('')).toEqual([]);
    expect(parsePath('/')).toEqual([]);
    expect(parsePath('/a/b%20c/')).toEqual(['a', 'b c']);
    expect(parsePath('/a//b')).toEqual(['a', '', 'b']);
    expect(parsePath('//')).toEqual([]);
    expect(parsePath('/a/%2E%2e')).toMatch(/may not contain "." or ".." segments/);
    expect(parsePath('/a\\b')).toBe('the path after the function name may not contain "\\": /a\\b');
  });

  it('names why it refuses a path', () => {
    expect(parsePath('/a/..')).toBe('the path after the function name may not contain "." or ".." segments (plain or percent-encoded): /a/..');
    expect(parsePath('/a%2Fb')).toBe('the path after the function name may not hold an encoded "/" or "\\": /a%2Fb');
    expect(parsePath('/%zz')).toBe('the path /%zz has a badly percent-encoded segment');
  });

  it('takes several versions at once (a split) strictest first: open only where every version is, served where any is', () => {
    const v1 = routes({ type: 'http', path: '/public/*', auth: 'none' }, { type: 'http', path: '/admin' });
    const v2 = routes({ type: 'http', path: '/public/*' }, { type: 'http', path: '/new', auth: 'none' });
    const both = new EveryVersionRoutes([v1, v2]);
    expect(status(both.decide('GET', '/public/a'))).toBe('keyed');
    expect(status(both.decide('GET', '/new'))).toBe('keyed');
    expect(status(both.decide('GET', '/admin'))).toBe('keyed');
    expect(status(both.decide('GET', '/nothing'))).toBe(404);
    // Its misses need no key only when every version is public.
    expect(both.public).toBe(true);
    expect(new EveryVersionRoutes([v1, routes({ type: 'http' })]).public).toBe(false);
    const open = new EveryVersionRoutes([routes({ type: 'http', auth: 'none' }), routes({ type: 'http', path: '/a', auth: 'none' })]);
    expect(status(open.decide('GET', '/a'))).toBe('open');
    expect(status(open.decide('GET', '/b'))).toBe('keyed');
    expect(open.public).toBe(true);
  });
});
