import { Controller, Get, HttpStatus, Inject, Injectable, Module, Res, DynamicModule, Global } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiProperty, ApiResponse, ApiServiceUnavailableResponse, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { OpenToProbes } from './internal-routes';
import { MetricsModule } from './metrics/metrics.module';
import type { Response } from 'express';
import { ErrorBody, Public } from '@platform/contracts';

export type HealthCheck = () => Promise<void> | void;

/** Readiness checks registered by the modules that own a dependency (database, broker, ...). */
@Injectable()
export class HealthRegistry {
  private readonly checks = new Map<string, HealthCheck>();
  register(name: string, check: HealthCheck): void {
    this.checks.set(name, check);
  }
  async run(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          await Promise.race([Promise.resolve(check()), new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 2_000).unref())]);
          out[name] = 'ok';
        } catch (err) {
          out[name] = `failing: ${(err as Error).message}`;
        }
      }),
    );
    return out;
  }
}

export const HEALTH_SERVICE_NAME = Symbol('HEALTH_SERVICE_NAME');

export class Liveness {
  @ApiProperty({ enum: ['ok'] })
  status: 'ok';

  @ApiProperty({ example: 'gateway', description: 'The service that answered.' })
  service: string;
}

export class Readiness {
  @ApiProperty({ enum: ['ok', 'failing'], enumName: 'ReadinessStatus' })
  status: 'ok' | 'failing';

  @ApiProperty({ example: 'gateway', description: 'The service that answered.' })
  service: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { rabbitmq: 'ok', database: 'failing: connect ECONNREFUSED 127.0.0.1:5432' },
    description: 'Each dependency: "ok" or "failing: <why>".',
  })
  checks: Record<string, string>;
}

const ApiErrorAnswer = (status: number, description: string) =>
  ApiResponse({ status, description, content: { 'application/json': { schema: { $ref: getSchemaPath(ErrorBody) } } } });

/** Open to anyone: probes carry no key. */
@Public()
@ApiTags('health')
@ApiExtraModels(ErrorBody)
@OpenToProbes()
@Controller()
export class HealthController {
  constructor(
    private readonly registry: HealthRegistry,
    @Inject(HEALTH_SERVICE_NAME) private readonly service: string,
  ) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  @ApiOperation({ operationId: 'getLiveness', summary: 'Liveness: the process answers (no key needed)', security: [] })
  @ApiOkResponse({ type: Liveness })
  @ApiErrorAnswer(400, 'A URL the gateway refuses')
  @ApiErrorAnswer(429, 'Over the rate limit of the gateway (GATEWAY_RATE_LIMIT_RPS), counted per client address')
  live() {
    return { status: 'ok', service: this.service };
  }

  /** Readiness: every dependency answers. */
  @Get('readyz')
  @ApiOperation({ operationId: 'getReadiness', summary: 'Readiness: every dependency answers (no key needed)', security: [] })
  @ApiOkResponse({ type: Readiness, description: 'Every check is "ok"' })
  @ApiServiceUnavailableResponse({ type: Readiness, description: 'A dependency is failing: its check says why' })
  @ApiErrorAnswer(400, 'A URL the gateway refuses')
  @ApiErrorAnswer(429, 'Over the rate limit of the gateway (GATEWAY_RATE_LIMIT_RPS), counted per client address')
  async ready(@Res() res: Response) {
    const checks = await this.registry.run();
    const ok = Object.values(checks).every((v) => v === 'ok');
    res.status(ok ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE).json({ status: ok ? 'ok' : 'failing', service: this.service, checks });
  }
}

@Global()
@Module({})
export class HealthModule {
  static forService(service: string): DynamicModule {
    return {
      module: HealthModule,
      // Every service with health endpoints has /metrics too (the same port, its own series).
      imports: [MetricsModule.forService(service)],
      controllers: [HealthController],
      providers: [HealthRegistry, { provide: HEALTH_SERVICE_NAME, useValue: service }],
      exports: [HealthRegistry],
    };
  }
}
