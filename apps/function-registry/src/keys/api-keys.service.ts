import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes, randomUUID } from 'crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'fs';
import * as path from 'path';
import { IsNull, Repository } from 'typeorm';
import {
  ADMIN_KEY_FILE,
  ApiKeyVerdict,
  ApiKeyView,
  CreateApiKeyDto,
  CreatedApiKey,
  EventNames,
  newEvent,
  NotFoundError,
  ValidationError,
} from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { EventPublisher } from '@platform/messaging';
import { FunctionsService } from '../functions/functions.service';
import { RegistrySettingsValues } from '../settings';
import { ApiKeyEntity } from './api-key.entity';

const KEY_PREFIX = 'hks_';
/** Characters of the key kept in the clear (the "hks_" and 8 more), to tell keys apart in a list. */
const VISIBLE = KEY_PREFIX.length + 8;
const HASH = /^[0-9a-f]{64}$/;

export const hashKey = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

function toView(k: ApiKeyEntity): ApiKeyView {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    scope: k.scope,
    functions: k.functions,
    createdAt: k.createdAt.toISOString(),
    revokedAt: k.revokedAt ? k.revokedAt.toISOString() : null,
  };
}

/**
 * API keys, stored as sha256 + prefix. At start, when no admin key is active, one is made and written to
 * HKS_DATA_DIR/admin-key (0600) for scripts/start and `hks` to pick up.
 */
@Injectable()
export class ApiKeysService implements OnApplicationBootstrap {
  private readonly logger = new Logger(ApiKeysService.name);
  private readonly adminKeyFile: string;

  constructor(
    @InjectRepository(ApiKeyEntity) private readonly repo: Repository<ApiKeyEntity>,
    private readonly functions: FunctionsService,
    private readonly events: EventPublisher,
    @Inject(SETTINGS) settings: RegistrySettingsValues,
  ) {
    this.adminKeyFile = path.resolve(settings.HKS_DATA_DIR, ADMIN_KEY_FILE);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.ensureAdminKey();
  }

  async create(dto: CreateApiKeyDto): Promise<CreatedApiKey> {
    const ids: string[] = [];
    if (dto.scope === 'invoke') {
      if (!dto.functions?.length) throw new ValidationError('an invoke key needs functions: the ids or labels of the functions it may invoke');
      for (const ref of dto.functions) {
        try {
          ids.push((await this.functions.find(ref, undefined, false, { id: true })).id);
        } catch (err) {
          if (err instanceof NotFoundError) throw new ValidationError(`function "${ref}" does not exist; an invoke key can only name existing functions`);
          throw err;
        }
      }
    } else if (dto.functions?.length) {
      throw new ValidationError('an admin key may call every function: leave functions out, or use scope invoke');
    }
    const key = KEY_PREFIX + randomBytes(32).toString('base64url');
    const saved = await this.repo.save(
      this.repo.create({
        id: randomUUID(),
        name: dto.name,
        prefix: key.slice(0, VISIBLE),
        hash: hashKey(key),
        scope: dto.scope,
        functions: [...new Set(ids)],
        revokedAt: null,
      }),
    );
    return { ...toView(saved), key };
  }

  async list(): Promise<ApiKeyView[]> {
    return (await this.repo.find({ order: { createdAt: 'ASC' } })).map(toView);
  }

  /** Revoking twice is fine; the gateway drops its cache on the event. */
  async revoke(id: string): Promise<ApiKeyView> {
    const found = await this.repo.findOneBy({ id });
    if (!found) throw new NotFoundError(`API key ${id} does not exist`);
    if (!found.revokedAt) {
      found.revokedAt = new Date();
      await this.repo.update({ id }, { revokedAt: found.revokedAt });
    }
    await this.events.publish(
      newEvent({
        name: EventNames.ApiKeyRevoked,
        type: 'API_KEY',
        status: 'SUCCESS',
        source: 'function-registry',
        payload: { id, name: found.name, prefix: found.prefix },
      }),
    );
    return toView(found);
  }

  async verify(hash: unknown): Promise<ApiKeyVerdict> {
    if (typeof hash !== 'string' || !HASH.test(hash)) return { valid: false };
    const found = await this.repo.findOneBy({ hash, revokedAt: IsNull() });
    return found ? { valid: true, id: found.id, scope: found.scope, functions: found.functions } : { valid: false };
  }

  /** One admin key at least, made under an advisory lock so that replicas starting together make one. */
  private async ensureAdminKey(): Promise<void> {
    await this.repo.manager.transaction(async (m) => {
      await m.query(`SELECT pg_advisory_xact_lock(hashtext('registry.admin-key'))`);
      const fileKey = this.readAdminKeyFile();
      if (fileKey && (await m.findOneBy(ApiKeyEntity, { hash: hashKey(fileKey), scope: 'admin', revokedAt: IsNull() }))) return;
      if (await m.findOneBy(ApiKeyEntity, { scope: 'admin', revokedAt: IsNull() })) return;
      const key = KEY_PREFIX + randomBytes(32).toString('base64url');
      await m.save(
        m.create(ApiKeyEntity, {
          id: randomUUID(),
          name: 'admin (first start)',
          prefix: key.slice(0, VISIBLE),
          hash: hashKey(key),
          scope: 'admin',
          functions: [],
          revokedAt: null,
        }),
      );
      // Written before the transaction commits: a key in the table is never one nobody has.
      this.writeAdminKeyFile(key);
      this.logger.warn(`no admin API key was active: created one (${key.slice(0, VISIBLE)}...) and wrote it to ${this.adminKeyFile}`);
    });
  }

  private readAdminKeyFile(): string | undefined {
    try {
      return readFileSync(this.adminKeyFile, 'utf8').trim() || undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Atomic: a reader sees the old file or the new one, never half of it. */
  private writeAdminKeyFile(key: string): void {
    mkdirSync(path.dirname(this.adminKeyFile), { recursive: true, mode: 0o700 });
    const tmp = `${this.adminKeyFile}.${process.pid}.tmp`;
    writeFileSync(tmp, key + '\n', { mode: 0o600 });
    renameSync(tmp, this.adminKeyFile);
  }
}
