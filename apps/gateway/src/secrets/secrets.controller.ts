import { Body, Controller, Delete, Get, Param, Put } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { FunctionPatterns, NotFoundError, SECRET_NAME_PATTERN, SecretValuesDto, SecretView, ValidationError } from '@platform/contracts';
import { RpcClient } from '@platform/messaging';
import { ErrorDoc, SecretDoc } from '../docs/api-models';

function checkName(name: string): void {
  if (!SECRET_NAME_PATTERN.test(name)) {
    throw new ValidationError('secret name must be 1-63 lowercase letters, digits or dashes, starting and ending with a letter or digit');
  }
}

/** Values go in, never come out: functions get them as environment variables at deploy time. */
@ApiTags('secrets')
@ApiResponse({ status: 400, type: ErrorDoc })
@Controller('api/v1/secrets')
export class SecretsController {
  constructor(private readonly rpc: RpcClient) {}

  @Get()
  @ApiOperation({ summary: 'List secrets: names and keys, never values' })
  @ApiOkResponse({ type: [SecretDoc] })
  list(): Promise<SecretView[]> {
    return this.rpc.call('function-registry', FunctionPatterns.ListSecrets, {});
  }

  @Get(':name')
  @ApiOperation({ summary: "A secret's keys (not its values)" })
  @ApiOkResponse({ type: SecretDoc })
  @ApiResponse({ status: 404, type: ErrorDoc })
  async get(@Param('name') name: string): Promise<SecretView> {
    const found = (await this.list()).find((s) => s.name === name);
    if (!found) throw new NotFoundError(`secret "${name}" does not exist`);
    return found;
  }

  @Put(':name')
  @ApiOperation({ summary: 'Create or replace a secret' })
  @ApiOkResponse({ type: SecretDoc })
  put(@Param('name') name: string, @Body() body: SecretValuesDto): Promise<SecretView> {
    checkName(name);
    return this.rpc.call('function-registry', FunctionPatterns.PutSecret, { name, values: body.values });
  }

  @Delete(':name')
  @ApiOperation({ summary: 'Delete a secret' })
  @ApiOkResponse({ type: SecretDoc })
  @ApiResponse({ status: 404, type: ErrorDoc })
  delete(@Param('name') name: string): Promise<SecretView> {
    return this.rpc.call('function-registry', FunctionPatterns.DeleteSecret, { name });
  }
}
