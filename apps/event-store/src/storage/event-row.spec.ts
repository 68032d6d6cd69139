import { newEvent } from '@platform/contracts';
import { admitEvent, MAX_JSON_DEPTH, toJsonb } from './event-row';

const good = () =>
  newEvent({
    name: 'invocation.succeeded',
    type: 'FUNCTION_INVOCATION',
    status: 'SUCCESS',
    source: 'invoker',
    functionId: '7f2c1b9e-3c1a-4d55-9b7e-0a6f1c2d3e4f',
    invocationId: '0b8e5a41-2f3d-4c6b-8a9e-1d2c3b4a5f60',
    payload: { a: 1 },
    processingTimeMs: 12.5,
    metadata: { coldStart: true },
  });

function reason(value: unknown): string | undefined {
  const a = admitEvent(value);
  return 'rejected' in a ? a.rejected.reason : undefined;
}

describe('admitEvent', () => {
  it('turns a well-formed event into a row with JSON columns as JSON text', () => {
    const e = good();
    const a = admitEvent(e);
    expect('row' in a && a.row).toMatchObject({
      id: e.id,
      name: 'invocation.succeeded',
      timestamp: e.timestamp,
      payload: '{"a":1}',
      response: null,
      metadata: '{"coldStart":true}',
      processingTimeMs: 12.5,
    });
  });

  it('keeps payloads that are bare JSON strings, numbers and booleans storable', () => {
    expect(toJsonb('plain text')).toBe('"plain text"');
    expect(toJsonb(42)).toBe('42');
    expect(toJsonb(false)).toBe('false');
    expect(toJsonb(undefined)).toBeNull();
  });

  it('replaces NUL characters and unpaired surrogates, which Postgres refuses, by U+FFFD', () => {
    const a = admitEvent({ ...good(), payload: { 'k\u0000': 'a\u0000b\ud800c' }, error: 'x\u0000y' });
    expect('row' in a && a.row.payload).toBe('{"k\uFFFD":"a\uFFFDb\uFFFDc"}');
    expect('row' in a && a.row.error).toBe('x\uFFFDy');
    expect(toJsonb('\ud83d\ude00')).toBe('"\ud83d\ude00"');
  });

  it('rejects what is not an event object, or has no usable id', () => {
    expect(reason('just a string')).toBe('the message is not a JSON object');
    expect(reason([1, 2])).toBe('the message is not a JSON object');
    expect(reason({ ...good(), id: undefined })).toBe('the event has no id');
    const a = admitEvent({ ...good(), id: 'evt-1' });
    expect('rejected' in a && a.rejected).toMatchObject({ eventId: 'evt-1', reason: 'the event id is not a UUID' });
  });

  it('rejects fields the table cannot hold, saying which', () => {
    expect(reason({ ...good(), status: 'DONE' })).toBe('status must be one of PENDING, SUCCESS, FAILURE');
    expect(reason({ ...good(), timestamp: 'yesterday' })).toMatch(/^timestamp must be an ISO-8601 date-time/);
    expect(reason({ ...good(), timestamp: '+275760-01-01T00:00:00Z' })).toMatch(/^timestamp must be/);
    expect(reason({ ...good(), functionId: 'my-function' })).toBe('functionId must be a UUID or null');
    expect(reason({ ...good(), processingTimeMs: '12' })).toBe('processingTimeMs must be a number or null');
    expect(reason({ ...good(), metadata: ['a'] })).toBe('metadata must be an object or null');
    expect(reason({ ...good(), name: '' })).toMatch(/^name must be a non-empty string/);
  });

  it('rejects JSON nested deeper than Postgres can parse safely', () => {
    let deep: unknown = 1;
    for (let i = 0; i <= MAX_JSON_DEPTH; i++) deep = [deep];
    expect(reason({ ...good(), payload: deep })).toBe(`payload, response or metadata nests deeper than ${MAX_JSON_DEPTH} levels`);
  });

  it('keeps the rejected message as JSON text for later inspection', () => {
    const a = admitEvent(17);
    expect('rejected' in a && a.rejected).toEqual({ eventId: null, reason: 'the message is not a JSON object', body: '17' });
  });
});
