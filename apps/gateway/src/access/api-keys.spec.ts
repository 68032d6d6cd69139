import type { IncomingMessage } from 'http';
import { EnvironmentKeys, presentedKey } from './api-keys';

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('presentedKey', () => {
  it('reads a Bearer token (any case of "Bearer") or x-api-key', () => {
    expect(presentedKey(request({ authorization: 'Bearer alpha' }))).toBe('alpha');
    expect(presentedKey(request({ authorization: 'bearer beta ' }))).toBe('beta');
    expect(presentedKey(request({ 'x-api-key': ' beta' }))).toBe('beta');
  });

  it('finds nothing without a key, or with another kind of Authorization', () => {
    expect(presentedKey(request({}))).toBeUndefined();
    expect(presentedKey(request({ authorization: 'Basic YTpi' }))).toBeUndefined();
    expect(presentedKey(request({ authorization: 'Bearer   ' }))).toBeUndefined();
  });
});

describe('EnvironmentKeys (HKS_API_KEYS)', () => {
  const keys = new EnvironmentKeys(' alpha , beta,,');

  it('holds the comma-separated keys, trimmed', () => {
    expect(keys.size).toBe(2);
    expect(keys.includes('alpha')).toBe(true);
    expect(keys.includes('beta')).toBe(true);
  });

  it('refuses any other key, a prefix of one included', () => {
    expect(keys.includes('gamma')).toBe(false);
    expect(keys.includes('alph')).toBe(false);
    expect(new EnvironmentKeys(undefined).includes('')).toBe(false);
  });
});
