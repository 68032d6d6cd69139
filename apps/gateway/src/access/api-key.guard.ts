import { CanActivate, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { DomainError, PUBLIC_ROUTE } from '@platform/contracts';
import { ADMIN_ONLY, GatewayAccess, Refusal } from './gateway-access';
import type { Principal } from './key-verifier';

/** Metadata of a route an invoke key may use too: the handler checks the function itself (principalOf). */
export const FUNCTION_SCOPED_ROUTE = 'hks:function-scoped-route';
export const FunctionScoped = () => SetMetadata(FUNCTION_SCOPED_ROUTE, true);

const PRINCIPAL = Symbol('principal');

/** The key that passed the guard on this request (undefined on a public route). */
export function principalOf(req: Request): Principal | undefined {
  return (req as Request & { [PRINCIPAL]?: Principal })[PRINCIPAL];
}

function refuse(res: Response, r: Refusal): never {
  for (const [name, value] of Object.entries(r.headers)) res.setHeader(name, value);
  throw new DomainError(r.body.statusCode, r.body.message);
}

/**
 * Deny by default, on the route the router matched: every Nest route needs an admin key unless its handler or
 * controller is marked @Public(), or @FunctionScoped() (any valid key passes; the handler then checks that an invoke
 * key names the function concerned). Also applies the rate limit to every request that reaches a route.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly access: GatewayAccess,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<Request>();
    const res = context.switchToHttp().getResponse<Response>();
    const open = this.reflector.getAllAndOverride<boolean | undefined>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()]);
    let principal;
    if (!open) {
      const auth = await this.access.authenticate(req);
      if (!auth.ok) refuse(res, auth);
      const scoped = this.reflector.getAllAndOverride<boolean | undefined>(FUNCTION_SCOPED_ROUTE, [context.getHandler(), context.getClass()]);
      if (auth.principal.scope !== 'admin' && !scoped) refuse(res, { body: ADMIN_ONLY, headers: {} });
      principal = auth.principal;
      (req as Request & { [PRINCIPAL]?: Principal })[PRINCIPAL] = principal;
    }
    const limited = await this.access.limit(req, principal);
    if (limited) refuse(res, limited);
    return true;
  }
}
