import { newEvent } from '@platform/contracts';
import { acceptCommand } from './accept-command';
import { requestFromEvent, viewFromEvents } from './invocation-view';

const base = { name: 'invocation.succeeded', type: 'FUNCTION_INVOCATION', source: 'invoker', invocationId: '11111111-2222-4333-8444-555555555555' } as const;
const decoded = (body: string) => Buffer.from(body, 'base64').toString('utf8');

describe('rebuilding the request of a recorded invocation', () => {
  it('POSTs a data-style payload back as {"data": payload}', () => {
    const r = requestFromEvent(newEvent({ ...base, status: 'SUCCESS', payload: { n: 5 }, metadata: { trigger: 'api' } }));
    expect(r).toMatchObject({ style: 'data', method: 'POST', path: '/', query: '', headers: { 'content-type': 'application/json' } });
    expect(decoded(r.body)).toBe('{"data":{"n":5}}');
  });

  it('takes an http-style payload’s method, path, query and body, without credentials or platform headers', () => {
    const payload = {
      method: 'PUT',
      path: '/orders/7',
      query: { a: '1', tag: ['x', 'y'] },
      headers: { 'content-type': 'text/plain', authorization: 'Bearer secret', 'x-api-key': 'k', 'x-hks-trigger': 'queue', 'x-request-id': 'r1' },
      body: 'aGk=',
      isBase64Encoded: true,
    };
    const r = requestFromEvent(newEvent({ ...base, status: 'SUCCESS', payload, metadata: { trigger: 'http' } }));
    expect(r).toEqual({
      style: 'http',
      method: 'PUT',
      path: '/orders/7',
      query: 'a=1&tag=x&tag=y',
      headers: { 'content-type': 'text/plain', 'x-request-id': 'r1' },
      body: Buffer.from('hi').toString('base64'),
    });
  });

  it('refuses (409) a payload the invoker cut', () => {
    const cut = newEvent({ ...base, status: 'SUCCESS', payload: '{"big": "...\n...[truncated: 99999 characters in all]' });
    expect(() => requestFromEvent(cut)).toThrow(expect.objectContaining({ statusCode: 409, message: expect.stringContaining('stored request was cut') }));
  });

  it('shows a failed synchronous invocation as one failed attempt, and a PENDING-only one as running', () => {
    const failed = viewFromEvents([
      newEvent({
        ...base,
        status: 'FAILURE',
        name: 'invocation.failed',
        payload: 1,
        error: 'boom',
        processingTimeMs: 5,
        metadata: { reason: 'error', statusCode: 500 },
      }),
    ]);
    expect(failed).toMatchObject({ async: false, status: 'failed', error: 'boom', attempts: [{ number: 1, outcome: 'error', statusCode: 500 }] });
    expect(viewFromEvents([newEvent({ ...base, status: 'PENDING', name: 'invocation.pending', payload: 1 })])).toMatchObject({ status: 'running' });
    expect(viewFromEvents([])).toBeNull();
  });
});

describe('the accept command', () => {
  const ok = {
    functionId: '11111111-2222-4333-8444-555555555555',
    request: { style: 'data', method: 'POST', path: '/', query: '', headers: {}, body: '' },
    source: 'api',
  };

  it('passes a well-formed command', () => {
    expect(acceptCommand(ok)).toBe(ok);
  });

  it('names every problem', () => {
    expect(() =>
      acceptCommand({ ...ok, functionId: 'x', request: { ...ok.request, style: 'grpc', body: '%%' }, callbackUrl: 'ftp://x', source: 'mail' }),
    ).toThrow(
      'functionId must be a function id (UUID); request.style must be "data" or "http"; request.body must be base64; ' +
        'callbackUrl must be an absolute http or https URL of at most 2048 characters; source must be one of api, http, replay, queue, rabbitmq, nats, mqtt, kafka, s3, schedule, event',
    );
  });
});
