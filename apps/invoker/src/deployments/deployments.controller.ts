import { Body, Controller, Delete, Get, HttpCode, Param, Put } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { NotFoundError } from '@platform/contracts';
import { WorkerLauncher } from '../workers/worker-launcher';
import { parseOrder } from './deployment-request';
import { DeploymentTable } from './deployment-table';

/** The local deploy driver's API: install, remove and list the functions this invoker runs. */
@ApiExcludeController()
@Controller('deployments')
export class DeploymentsController {
  constructor(
    private readonly table: DeploymentTable,
    private readonly launcher: WorkerLauncher,
  ) {}

  /** 200 once the bundle is unpacked and the minimum instances run. */
  @Put(':functionId')
  async put(@Param('functionId') functionId: string, @Body() body: unknown) {
    const d = await this.table.install(parseOrder(functionId, body));
    return { deploymentId: d.order.deploymentId, functionId: d.order.spec.functionId, label: d.order.spec.label, status: 'READY', pool: d.pool?.status() };
  }

  @Delete(':functionId')
  @HttpCode(200)
  async remove(@Param('functionId') functionId: string) {
    if (!(await this.table.remove(functionId))) throw new NotFoundError(`function ${functionId} is not deployed on this invoker`);
    return { functionId, removed: true };
  }

  /** The worker cap, prewarmed workers and pools, for operators and the bench. */
  @Get()
  list() {
    return { workers: this.launcher.workerStatus(), prewarm: this.launcher.prewarmStatus(), deployments: this.table.list() };
  }
}
