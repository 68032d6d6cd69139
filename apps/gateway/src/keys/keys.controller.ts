import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiKeyPatterns, ApiKeyView, CreateApiKeyDto, CreatedApiKey, ValidationError } from '@platform/contracts';
import { RpcClient } from '@platform/messaging';
import { ApiErrors, ApiManagementErrors } from '../docs/api-errors';

/** API keys, admin only (like every route not marked @Public()). Keys are stored hashed: the plaintext is shown once. */
@ApiTags('keys')
@ApiManagementErrors()
@Controller('api/v1/keys')
export class KeysController {
  constructor(private readonly rpc: RpcClient) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    operationId: 'createApiKey',
    summary: 'Create an API key: admin, or invoke-only for the functions named; the answer holds the key, shown this once',
  })
  @ApiCreatedResponse({ type: CreatedApiKey })
  @ApiErrors({ 413: true })
  create(@Body() body: CreateApiKeyDto): Promise<CreatedApiKey> {
    return this.rpc.call('function-registry', ApiKeyPatterns.Create, body);
  }

  @Get()
  @ApiOperation({ operationId: 'listApiKeys', summary: 'List API keys (prefix, scope, revoked or not; never the key)' })
  @ApiOkResponse({ type: [ApiKeyView] })
  list(): Promise<ApiKeyView[]> {
    return this.rpc.call('function-registry', ApiKeyPatterns.List, {});
  }

  @Delete(':id')
  @ApiOperation({ operationId: 'revokeApiKey', summary: 'Revoke an API key: it stops working within seconds' })
  @ApiParam({ name: 'id', description: 'API key id (uuid)', schema: { type: 'string', format: 'uuid' } })
  @ApiOkResponse({ type: ApiKeyView, description: 'The key, revoked' })
  @ApiErrors({ 404: 'No API key has this id' })
  revoke(@Param('id', new ParseUUIDPipe({ exceptionFactory: () => new ValidationError('API key id must be a UUID') })) id: string): Promise<ApiKeyView> {
    return this.rpc.call('function-registry', ApiKeyPatterns.Revoke, { id });
  }
}
