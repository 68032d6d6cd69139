import { IncomingHttpHeaders } from 'http';
import { takeAttemptFacts } from './internal-headers';

describe('takeAttemptFacts: the deployer headers of an attempt', () => {
  it("takes the invocation id and the attempt number, and removes both from the function's headers", () => {
    const headers: IncomingHttpHeaders = {
      'x-hks-invocation-id': '4B0C2F5E-8D1A-4C3E-9F7A-2D6B8E1C0A93',
      'x-hks-attempt': '3',
      'content-type': 'application/json',
    };
    expect(takeAttemptFacts(headers)).toEqual({ invocationId: '4b0c2f5e-8d1a-4c3e-9f7a-2d6b8e1c0a93', attempt: 3 });
    expect(headers).toEqual({ 'content-type': 'application/json' });
  });

  it('ignores an id that is not a UUID and an attempt that is not a positive whole number, and still removes them', () => {
    for (const [id, attempt] of [
      ['not-a-uuid', '0'],
      ['4b0c2f5e-8d1a-4c3e-9f7a-2d6b8e1c0a9', '-1'],
      ['', '1.5'],
      ['4b0c2f5e-8d1a-4c3e-9f7a-2d6b8e1c0a93x', 'two'],
    ]) {
      const headers: IncomingHttpHeaders = { 'x-hks-invocation-id': id, 'x-hks-attempt': attempt };
      expect(takeAttemptFacts(headers)).toEqual({});
      expect(headers).toEqual({});
    }
  });

  it('gives nothing when neither header is there (a synchronous invocation)', () => {
    expect(takeAttemptFacts({ accept: '*/*' })).toEqual({});
  });
});
