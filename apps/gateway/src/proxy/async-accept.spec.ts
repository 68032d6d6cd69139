import type { IncomingMessage } from 'http';
import { callbackUrlOf, idempotencyKeyOf, storedRequest } from './async-accept';

const message = (method: string, headers: IncomingMessage['headers']) =>
  ({ method, headers, socket: { remoteAddress: '10.0.0.7' } }) as unknown as IncomingMessage;

describe('the stored request of an asynchronous invocation', () => {
  it('splits the URL after the function name into path ("/" when none) and raw query', () => {
    const of = (rest: string) => {
      const r = storedRequest(message('GET', {}), { name: 'f', style: 'data', rest }, Buffer.alloc(0));
      return [r.path, r.query];
    };
    expect(of('f')).toEqual(['/', '']);
    expect(of('f?a=1&b=%20')).toEqual(['/', 'a=1&b=%20']);
    expect(of('f/')).toEqual(['/', '']);
    expect(of('f/items/7%2F8?x=1')).toEqual(['/items/7%2F8', 'x=1']);
  });

  it('keeps the headers the function would see, without credentials, hop-by-hop, async or x-hks-* ones, and says who called', () => {
    const req = message('PUT', {
      authorization: 'Bearer k',
      'x-api-key': 'k',
      connection: 'keep-alive',
      'content-length': '5',
      'transfer-encoding': 'chunked',
      prefer: 'respond-async',
      'x-invocation-type': 'Event',
      'x-callback-url': 'https://example.com',
      'idempotency-key': 'a',
      'x-idempotency-key': 'a',
      'x-hks-attempt': '3',
      'content-type': 'text/plain',
      'x-forwarded-for': '1.2.3.4',
      host: 'api.example.com',
      'x-many': ['one', 'two'],
    });
    const r = storedRequest(req, { name: 'f', style: 'http', rest: 'f' }, Buffer.from('hello'));
    expect(r).toEqual({
      style: 'http',
      method: 'PUT',
      path: '/',
      query: '',
      headers: {
        'content-type': 'text/plain',
        host: 'api.example.com',
        'x-many': 'one, two',
        'x-forwarded-for': '1.2.3.4, 10.0.0.7',
        'x-forwarded-host': 'api.example.com',
        'x-forwarded-proto': 'http',
      },
      body: Buffer.from('hello').toString('base64'),
    });
  });
});

describe('X-Callback-Url and Idempotency-Key', () => {
  it('takes an absolute http(s) callback URL, trimmed, and none when absent or blank', () => {
    expect(callbackUrlOf({ 'x-callback-url': ' http://hooks.local:8000/x?y=1 ' })).toBe('http://hooks.local:8000/x?y=1');
    expect(callbackUrlOf({})).toBeUndefined();
    expect(() => callbackUrlOf({ 'x-callback-url': 'mailto:a@b.c' })).toThrow('X-Callback-Url must be an http:// or https:// URL, not mailto:');
  });

  it('takes the key from either header, the same in both is fine', () => {
    expect(idempotencyKeyOf({ 'idempotency-key': 'order 42' })).toBe('order 42');
    expect(idempotencyKeyOf({ 'x-idempotency-key': 'k' })).toBe('k');
    expect(idempotencyKeyOf({ 'idempotency-key': 'k', 'x-idempotency-key': 'k' })).toBe('k');
    expect(idempotencyKeyOf({})).toBeUndefined();
    expect(() => idempotencyKeyOf({ 'idempotency-key': 'caf\u00e9' })).toThrow('Idempotency-Key may hold only printable ASCII characters (space to ~)');
  });
});
