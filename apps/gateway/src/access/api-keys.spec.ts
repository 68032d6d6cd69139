import type { IncomingMessage } from 'http';
import { ApiKeys } from './api-keys';

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('ApiKeys', () => {
  const keys = new ApiKeys(' alpha , beta,,');

  it('is off when no key is configured', () => {
    const off = new ApiKeys(undefined);
    expect(off.enabled).toBe(false);
    expect(off.check(request({}))).toEqual({ ok: true, key: undefined });
  });

  it('accepts a configured key as a Bearer token or in x-api-key', () => {
    expect(keys.check(request({ authorization: 'Bearer alpha' }))).toEqual({ ok: true, key: 'alpha' });
    expect(keys.check(request({ authorization: 'bearer beta' }))).toEqual({ ok: true, key: 'beta' });
    expect(keys.check(request({ 'x-api-key': 'beta' }))).toEqual({ ok: true, key: 'beta' });
  });

  it('answers 401 saying how to send a key when there is none', () => {
    expect(keys.check(request({}))).toMatchObject({
      ok: false,
      body: { statusCode: 401, message: 'An API key is required: send "Authorization: Bearer <key>" or "x-api-key: <key>"' },
    });
  });

  it('answers 401 for a key that is not configured', () => {
    expect(keys.check(request({ authorization: 'Bearer gamma' }))).toMatchObject({ ok: false, body: { message: 'The API key is not valid' } });
    expect(keys.check(request({ 'x-api-key': 'alph' }))).toMatchObject({ ok: false });
  });
});
