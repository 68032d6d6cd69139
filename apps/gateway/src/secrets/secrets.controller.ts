import { Body, Controller, Delete, Get, Param, Put } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { FunctionPatterns, NotFoundError, SECRET_NAME_PATTERN, SecretValuesDto, SecretView, ValidationError } from '@platform/contracts';
import { RpcClient } from '@platform/messaging';
import { ApiErrors, ApiManagementErrors } from '../docs/api-errors';

const NAME = { name: 'name', description: 'Secret name: 1-63 lowercase letters, digits or dashes', example: 'db' };

function checkName(name: string): void {
  if (!SECRET_NAME_PATTERN.test(name)) {
    throw new ValidationError('secret name must be 1-63 lowercase letters, digits or dashes, starting and ending with a letter or digit');
  }
}

/** Values go in, never come out: functions get them as environment variables at deploy time. */
@ApiTags('secrets')
@ApiManagementErrors()
@Controller('api/v1/secrets')
export class SecretsController {
  constructor(private readonly rpc: RpcClient) {}

  @Get()
  @ApiOperation({ operationId: 'listSecrets', summary: 'List secrets: names and keys, never values' })
  @ApiOkResponse({ type: [SecretView] })
  list(): Promise<SecretView[]> {
    return this.rpc.call('function-registry', FunctionPatterns.ListSecrets, {});
  }

  @Get(':name')
  @ApiOperation({ operationId: 'getSecret', summary: "A secret's keys (not its values)" })
  @ApiParam(NAME)
  @ApiOkResponse({ type: SecretView })
  @ApiErrors({ 404: 'No secret has this name' })
  async get(@Param('name') name: string): Promise<SecretView> {
    const found = (await this.list()).find((s) => s.name === name);
    if (!found) throw new NotFoundError(`secret "${name}" does not exist`);
    return found;
  }

  @Put(':name')
  @ApiOperation({ operationId: 'putSecret', summary: 'Create or replace a secret' })
  @ApiParam(NAME)
  @ApiOkResponse({ type: SecretView })
  @ApiErrors({ 413: true })
  put(@Param('name') name: string, @Body() body: SecretValuesDto): Promise<SecretView> {
    checkName(name);
    return this.rpc.call('function-registry', FunctionPatterns.PutSecret, { name, values: body.values });
  }

  @Delete(':name')
  @ApiOperation({ operationId: 'deleteSecret', summary: 'Delete a secret' })
  @ApiParam(NAME)
  @ApiOkResponse({ type: SecretView, description: 'The secret as it was' })
  @ApiErrors({ 404: 'No secret has this name' })
  delete(@Param('name') name: string): Promise<SecretView> {
    return this.rpc.call('function-registry', FunctionPatterns.DeleteSecret, { name });
  }
}
