import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { FunctionPatterns, PutSecretDto, ValidationError } from '@platform/contracts';
import { validatePayload } from '@platform/messaging';
import { functionRef, versionOf } from '../functions/function-ref';
import { SecretsService } from './secrets.service';

@Controller()
export class SecretsController {
  constructor(private readonly secrets: SecretsService) {}

  @MessagePattern(FunctionPatterns.PutSecret)
  put(@Payload() payload: unknown) {
    return this.secrets.put(validatePayload(PutSecretDto, payload));
  }

  @MessagePattern(FunctionPatterns.ListSecrets)
  list() {
    return this.secrets.list();
  }

  @MessagePattern(FunctionPatterns.DeleteSecret)
  delete(@Payload() payload: { name?: unknown }) {
    if (typeof payload?.name !== 'string' || !payload.name) throw new ValidationError('name the secret: {"name": "<secret name>"}');
    return this.secrets.delete(payload.name);
  }

  @MessagePattern(FunctionPatterns.ResolveSecret)
  resolveOne(@Payload() payload: { name?: unknown }) {
    if (typeof payload?.name !== 'string' || !payload.name) throw new ValidationError('name the secret: {"name": "<secret name>"}');
    return this.secrets.resolveNamed(payload.name);
  }

  @MessagePattern(FunctionPatterns.ResolveSecrets)
  resolve(@Payload() payload: { version?: unknown }) {
    return this.secrets.resolveFor(functionRef(payload), versionOf(payload, true));
  }
}
