import { CanActivate, ExecutionContext, Injectable, Module, SetMetadata } from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import type { IncomingMessage } from 'http';
import { INTERNAL_TOKEN_HEADER, internalTokenProblem, UnauthorizedError } from '@platform/contracts';
import { InternalCredential } from '@platform/config';

const OPEN_TO_PROBES = 'hks:open-to-probes';

/** Marks the routes (health) that answer without the internal credential, for Kubernetes probes. */
export const OpenToProbes = (): ClassDecorator & MethodDecorator => SetMetadata(OPEN_TO_PROBES, true);

/** Refuses (401) an HTTP request without the platform's internal credential, unless its route is open to probes. */
@Injectable()
export class InternalCallerGuard implements CanActivate {
  constructor(
    private readonly credential: InternalCredential,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    // RPC callers are authenticated by the broker; this guards HTTP only.
    if (context.getType() !== 'http') return true;
    if (this.reflector.getAllAndOverride<boolean>(OPEN_TO_PROBES, [context.getHandler(), context.getClass()])) return true;
    const given = context.switchToHttp().getRequest<IncomingMessage>().headers[INTERNAL_TOKEN_HEADER];
    if (!this.credential.matches(given)) throw new UnauthorizedError(internalTokenProblem(given));
    return true;
  }
}

/**
 * Deny by default for a service whose HTTP port only other services call (every service but the gateway):
 * each of its HTTP routes, present and future, needs the internal credential; health stays open.
 */
@Module({ providers: [{ provide: APP_GUARD, useClass: InternalCallerGuard }] })
export class InternalRoutesModule {}
