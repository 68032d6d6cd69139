import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { ApiKeyPatterns, CreateApiKeyDto, isUuid, ValidationError } from '@platform/contracts';
import { validatePayload } from '@platform/messaging';
import { ApiKeysService } from './api-keys.service';

@Controller()
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @MessagePattern(ApiKeyPatterns.Create)
  create(@Payload() payload: unknown) {
    return this.keys.create(validatePayload(CreateApiKeyDto, payload));
  }

  @MessagePattern(ApiKeyPatterns.List)
  list() {
    return this.keys.list();
  }

  @MessagePattern(ApiKeyPatterns.Revoke)
  revoke(@Payload() payload: { id?: unknown }) {
    if (typeof payload?.id !== 'string' || !isUuid(payload.id)) throw new ValidationError('API key id must be a UUID');
    return this.keys.revoke(payload.id.toLowerCase());
  }

  @MessagePattern(ApiKeyPatterns.Verify)
  verify(@Payload() payload: { hash?: unknown }) {
    return this.keys.verify(payload?.hash);
  }
}
