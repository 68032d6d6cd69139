import { Controller, ExecutionContext, Get } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { DomainError, Public } from '@platform/contracts';
import { ApiKeyGuard } from './api-key.guard';
import { GatewayAccess } from './gateway-access';
import { KeyVerifier, Principal } from './key-verifier';

@Controller()
class PrivateController {
  @Get() list() {}
  @Public() @Get('open') open() {}
}

@Public()
@Controller()
class PublicController {
  @Get() probe() {}
}

const PRINCIPALS: Record<string, Principal> = {
  'admin-key': { id: 'k1', scope: 'admin', functions: [] },
  'invoke-key': { id: 'k2', scope: 'invoke', functions: ['f1'] },
};

describe('ApiKeyGuard', () => {
  const verifier = { verify: (key: string) => Promise.resolve(PRINCIPALS[key]) } as unknown as KeyVerifier;
  const settings = { GATEWAY_RATE_LIMIT_RPS: 0, GATEWAY_RATE_LIMIT_BURST: 0, GATEWAY_TRUST_PROXY: false };
  const guard = (rps = 0) => new ApiKeyGuard(new Reflector(), new GatewayAccess({ ...settings, GATEWAY_RATE_LIMIT_RPS: rps } as never, verifier));

  function context(cls: { prototype: object }, handler: string, headers: Record<string, string> = {}) {
    const res = {
      headers: {} as Record<string, string>,
      setHeader(n: string, v: string) {
        this.headers[n] = v;
      },
    };
    const req = { headers, socket: { remoteAddress: '127.0.0.1' } } as unknown as Request;
    const ctx = {
      getType: () => 'http',
      getHandler: () => (cls.prototype as Record<string, unknown>)[handler],
      getClass: () => cls,
      switchToHttp: () => ({ getRequest: () => req, getResponse: () => res as unknown as Response }),
    } as unknown as ExecutionContext;
    return { ctx, res };
  }

  async function refusal(run: Promise<boolean>): Promise<{ statusCode: number; message: string }> {
    const err = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DomainError);
    return err as DomainError;
  }

  it('refuses a route that is not marked public without a key, asking for one', async () => {
    const { ctx, res } = context(PrivateController, 'list');
    expect(await refusal(guard().canActivate(ctx))).toMatchObject({ statusCode: 401, message: expect.stringContaining('An API key is required') });
    expect(res.headers['www-authenticate']).toBe('Bearer realm="hks"');
  });

  it('refuses an unknown key with 401 and an invoke key with 403', async () => {
    expect(await refusal(guard().canActivate(context(PrivateController, 'list', { authorization: 'Bearer nope' }).ctx))).toMatchObject({ statusCode: 401 });
    const invoke = await refusal(guard().canActivate(context(PrivateController, 'list', { 'x-api-key': 'invoke-key' }).ctx));
    expect(invoke).toMatchObject({ statusCode: 403, message: 'This API key may only invoke the functions it names; this route needs an admin key' });
  });

  it('lets an admin key through', async () => {
    await expect(guard().canActivate(context(PrivateController, 'list', { authorization: 'Bearer admin-key' }).ctx)).resolves.toBe(true);
  });

  it('opens a handler or a whole controller marked @Public()', async () => {
    await expect(guard().canActivate(context(PrivateController, 'open').ctx)).resolves.toBe(true);
    await expect(guard().canActivate(context(PublicController, 'probe').ctx)).resolves.toBe(true);
  });

  it('rate-limits public routes too, with Retry-After', async () => {
    const limited = guard(1);
    await expect(limited.canActivate(context(PublicController, 'probe').ctx)).resolves.toBe(true);
    const { ctx, res } = context(PublicController, 'probe');
    expect(await refusal(limited.canActivate(ctx))).toMatchObject({ statusCode: 429 });
    expect(res.headers['retry-after']).toBe('1');
  });
});
