import type { IncomingMessage } from 'http';
import { GatewayAccess } from './gateway-access';
import { KeyVerifier } from './key-verifier';

describe('GatewayAccess.clientIp', () => {
  const access = (trust: boolean) =>
    new GatewayAccess({ GATEWAY_RATE_LIMIT_RPS: 0, GATEWAY_RATE_LIMIT_BURST: 0, GATEWAY_TRUST_PROXY: trust } as never, {} as KeyVerifier);
  const req = (xff?: string | string[]) =>
    ({ headers: xff === undefined ? {} : { 'x-forwarded-for': xff }, socket: { remoteAddress: '10.0.0.9' } }) as unknown as IncomingMessage;

  it('is the peer address unless the proxy is trusted', () => {
    expect(access(false).clientIp(req('1.2.3.4'))).toBe('10.0.0.9');
    expect(access(true).clientIp(req())).toBe('10.0.0.9');
  });

  it('behind a trusted proxy, is the entry the proxy appended, not one the client sent before it', () => {
    expect(access(true).clientIp(req('1.2.3.4'))).toBe('1.2.3.4');
    expect(access(true).clientIp(req('6.6.6.6, 1.2.3.4'))).toBe('1.2.3.4');
    expect(access(true).clientIp(req(['6.6.6.6', '1.2.3.4']))).toBe('1.2.3.4');
  });

  it('keeps a rate-limit key short whatever the header holds', () => {
    expect(access(true).clientIp(req(`x, ${'a'.repeat(10_000)}`)).length).toBeLessThanOrEqual(64);
  });
});
