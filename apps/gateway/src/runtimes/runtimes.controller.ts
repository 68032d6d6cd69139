import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { FunctionPatterns, RuntimeView } from '@platform/contracts';
import { RpcClient } from '@platform/messaging';
import { ApiManagementErrors } from '../docs/api-errors';

@ApiTags('runtimes')
@ApiManagementErrors()
@Controller('api/v1/runtimes')
export class RuntimesController {
  constructor(private readonly rpc: RpcClient) {}

  @Get()
  @ApiOperation({
    operationId: 'listRuntimes',
    summary: 'The runtimes, their versions, aliases and defaults',
    description:
      "What a function's `runtime` may name. A version that is not installed runs on the nearest newer one, and the function says so " +
      '(`warnings`, `resolvedRuntime.warning`); an unknown runtime, or one asking for a version newer than any installed, is a 400.',
  })
  @ApiOkResponse({ type: [RuntimeView] })
  list(): Promise<RuntimeView[]> {
    return this.rpc.call('function-registry', FunctionPatterns.ListRuntimes, {});
  }
}
