import { StoredRequest } from '@platform/contracts';
import { requestSha256 } from './invocations.service';

const request: StoredRequest = {
  style: 'data',
  method: 'POST',
  path: '/',
  query: 'a=1',
  headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.0.0.1', traceparent: '00-aa-bb-01', 'user-agent': 'curl/8' },
  body: Buffer.from('{"data":1}').toString('base64'),
};

describe('the fingerprint an idempotency key is compared on', () => {
  it('is the same for a retry that came through another proxy, with another trace and client', () => {
    const retry = { ...request, headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.9.9.9', traceparent: '00-cc-dd-01' } };
    expect(requestSha256(retry)).toBe(requestSha256(request));
  });

  it('differs when the body, path, query, method or content type differ', () => {
    const base = requestSha256(request);
    expect(requestSha256({ ...request, body: Buffer.from('{"data":2}').toString('base64') })).not.toBe(base);
    expect(requestSha256({ ...request, path: '/other' })).not.toBe(base);
    expect(requestSha256({ ...request, query: 'a=2' })).not.toBe(base);
    expect(requestSha256({ ...request, method: 'PUT' })).not.toBe(base);
    expect(requestSha256({ ...request, headers: { 'content-type': 'text/plain' } })).not.toBe(base);
  });
});
