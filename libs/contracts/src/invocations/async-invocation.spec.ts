import { storedPathProblem, wantsAsync } from './async-invocation';

describe('storedPathProblem: a stored path that, sent again by fetch, would leave the function', () => {
  it('accepts plain paths, encoded characters included', () => {
    for (const p of ['/', '/a/b', '/items/7', '/a..b/c', '/%2e%2e%5c', '/..%5c..%5chttp/x', '/a%2Fb', '/.well-known'])
      expect([p, storedPathProblem(p)]).toEqual([p, undefined]);
  });

  it('refuses dot segments (plain, percent-encoded, any case), backslashes, "?" and "#", and a path without its "/"', () => {
    for (const p of ['/..', '/../x', '/a/./b', '/a/.', '/%2e%2e/x', '/%2E./x', '/.%2e', '/%2e', '/a\\..\\b', '/a?b', '/a#b']) {
      expect([p, storedPathProblem(p)]).toEqual([p, expect.stringMatching(/^the path after the function name may not contain/)]);
    }
    expect(storedPathProblem('x')).toBe('the path after the function name must start with "/"');
  });

  it('fetch would indeed resolve what it refuses', () => {
    expect(new URL('http://h/invoke/A/%2e%2e/B').pathname).toBe('/invoke/B');
    expect(new URL('http://h/invoke/A/a\\..\\..\\..\\deployments/B').pathname).toBe('/deployments/B');
  });
});

describe('wantsAsync', () => {
  it('takes the three conventions, and nothing else', () => {
    expect(wantsAsync({ prefer: 'wait=5, Respond-Async' })).toBe(true);
    expect(wantsAsync({ prefer: 'respond-async; foo=bar' })).toBe(true);
    expect(wantsAsync({ 'x-invocation-type': 'Event' })).toBe(true);
    expect(wantsAsync({ 'x-callback-url': 'http://127.0.0.1:9/x' })).toBe(true);
    expect(wantsAsync({ prefer: 'return=minimal' })).toBe(false);
    expect(wantsAsync({ 'x-invocation-type': 'RequestResponse' })).toBe(false);
    expect(wantsAsync({})).toBe(false);
  });
});
