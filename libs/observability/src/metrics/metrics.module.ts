import { Controller, DynamicModule, Get, Global, Inject, Module, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { INTERNAL_TOKEN_HEADER, internalTokenMatches, Public, UnauthorizedError } from '@platform/contracts';
import { InternalCredential, SETTINGS } from '@platform/config';
import { RPC_OBSERVER, RpcObserver } from '@platform/messaging';
import { OpenToProbes } from '../internal-routes';
import { LATENCY_BUCKETS, ServiceMetrics } from './service-metrics';

interface MetricsSettings {
  METRICS_TOKEN?: string;
  METRICS_MAX_FUNCTIONS: number;
}

/** The bearer token of an Authorization header, if it has one. */
function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

/**
 * GET /metrics, Prometheus's text format, on the service's own port. Metrics are operator data: the caller presents
 * METRICS_TOKEN (when set) or the platform's internal credential, as `Authorization: Bearer <token>` (what
 * Prometheus's `authorization` scrape setting sends) or in the internal credential's header. Not an API route: kept
 * out of the OpenAPI document, and past the gateway's key check (an API key does not open it).
 */
@Public()
@OpenToProbes()
@ApiExcludeController()
@Controller()
export class MetricsController {
  constructor(
    private readonly metrics: ServiceMetrics,
    private readonly credential: InternalCredential,
    @Inject(SETTINGS) private readonly settings: MetricsSettings,
  ) {}

  @Get('metrics')
  async scrape(@Req() req: Request, @Res() res: Response): Promise<void> {
    const token = bearer(req.headers.authorization);
    const allowed =
      (this.settings.METRICS_TOKEN !== undefined && internalTokenMatches(this.settings.METRICS_TOKEN, token)) ||
      this.credential.matches(token) ||
      this.credential.matches(req.headers[INTERNAL_TOKEN_HEADER]);
    if (!allowed) {
      throw new UnauthorizedError(
        token === undefined
          ? `/metrics needs a token: send "Authorization: Bearer <METRICS_TOKEN or the internal credential>" or the internal credential in ${INTERNAL_TOKEN_HEADER} (API keys do not open it)`
          : `the bearer token is neither METRICS_TOKEN nor the internal credential (API keys do not open /metrics; the internal credential also goes in ${INTERNAL_TOKEN_HEADER})`,
      );
    }
    res.setHeader('content-type', this.metrics.contentType);
    res.send(await this.metrics.exposition());
  }
}

/** RPC latency as the caller sees it (its service label), by the service called, the pattern and the outcome. */
function rpcObserver(metrics: ServiceMetrics): RpcObserver {
  const h = metrics.histogram({
    name: 'hks_rpc_client_duration_seconds',
    help: 'RPC calls over RabbitMQ made by this service, from send to answer (or timeout)',
    labelNames: ['target', 'pattern', 'outcome'],
    buckets: LATENCY_BUCKETS,
  });
  return { observe: (target, pattern, seconds, outcome) => h.observe({ target, pattern, outcome }, seconds) };
}

/** Gives every service its ServiceMetrics (for its own series) and GET /metrics. */
@Global()
@Module({})
export class MetricsModule {
  static forService(service: string): DynamicModule {
    return {
      module: MetricsModule,
      controllers: [MetricsController],
      providers: [
        {
          provide: ServiceMetrics,
          useFactory: (settings: MetricsSettings) => new ServiceMetrics(service, settings.METRICS_MAX_FUNCTIONS ?? 100),
          inject: [SETTINGS],
        },
        { provide: RPC_OBSERVER, useFactory: rpcObserver, inject: [ServiceMetrics] },
      ],
      exports: [ServiceMetrics, RPC_OBSERVER],
    };
  }
}
