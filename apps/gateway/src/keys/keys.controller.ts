import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiKeyPatterns, ApiKeyView, CreateApiKeyDto, CreatedApiKey, ValidationError } from '@platform/contracts';
import { RpcClient } from '@platform/messaging';
import { ApiKeyDoc, CreatedApiKeyDoc, ErrorDoc } from '../docs/api-models';

/** API keys, admin only (like every route not marked @Public()). Keys are stored hashed: the plaintext is shown once. */
@ApiTags('keys')
@ApiResponse({ status: 400, type: ErrorDoc })
@ApiResponse({ status: 401, type: ErrorDoc })
@ApiResponse({ status: 403, type: ErrorDoc })
@Controller('api/v1/keys')
export class KeysController {
  constructor(private readonly rpc: RpcClient) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Create an API key: admin, or invoke-only for the functions named; the answer holds the key, shown this once' })
  @ApiResponse({ status: 201, type: CreatedApiKeyDoc })
  create(@Body() body: CreateApiKeyDto): Promise<CreatedApiKey> {
    return this.rpc.call('function-registry', ApiKeyPatterns.Create, body);
  }

  @Get()
  @ApiOperation({ summary: 'List API keys (prefix, scope, revoked or not; never the key)' })
  @ApiOkResponse({ type: [ApiKeyDoc] })
  list(): Promise<ApiKeyView[]> {
    return this.rpc.call('function-registry', ApiKeyPatterns.List, {});
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Revoke an API key: it stops working within seconds' })
  @ApiOkResponse({ type: ApiKeyDoc })
  @ApiResponse({ status: 404, type: ErrorDoc })
  revoke(@Param('id', new ParseUUIDPipe({ exceptionFactory: () => new ValidationError('API key id must be a UUID') })) id: string): Promise<ApiKeyView> {
    return this.rpc.call('function-registry', ApiKeyPatterns.Revoke, { id });
  }
}
