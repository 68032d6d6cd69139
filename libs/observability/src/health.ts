import { Controller, Get, HttpStatus, Inject, Injectable, Module, Res, DynamicModule, Global } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { OpenToProbes } from './internal-routes';
import type { Response } from 'express';
import { Public } from '@platform/contracts';

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
          await Promise.race([
            Promise.resolve(check()),
            new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 2_000).unref()),
          ]);
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

/** Open to anyone: probes carry no key. */
@Public()
@ApiExcludeController()
@OpenToProbes()
@Controller()
export class HealthController {
  constructor(
    private readonly registry: HealthRegistry,
    @Inject(HEALTH_SERVICE_NAME) private readonly service: string,
  ) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  live() {
    return { status: 'ok', service: this.service };
  }

  /** Readiness: every dependency answers. */
  @Get('readyz')
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
      controllers: [HealthController],
      providers: [HealthRegistry, { provide: HEALTH_SERVICE_NAME, useValue: service }],
      exports: [HealthRegistry],
    };
  }
}
