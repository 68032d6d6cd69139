import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { NotFoundError, PutSecretDto, SecretView, StateError, ValidationError } from '@platform/contracts';
import { FunctionsService } from '../functions/functions.service';
import { SecretCipher } from './secret-cipher';
import { SecretEntity } from './secret.entity';

const KEY_PATTERN = /^[-._a-zA-Z0-9]{1,253}$/;
const MAX_SECRET_BYTES = 1024 * 1024;

const LISTED = { name: true, keys: true, createdAt: true, updatedAt: true } as const;

function toView(s: SecretEntity): SecretView {
  return { name: s.name, keys: s.keys, createdAt: s.createdAt.toISOString(), updatedAt: s.updatedAt.toISOString() };
}

/** Secrets are written and listed by name; their values leave the registry only through ResolveSecrets. */
@Injectable()
export class SecretsService {
  constructor(
    @InjectRepository(SecretEntity) private readonly repo: Repository<SecretEntity>,
    private readonly cipher: SecretCipher,
    private readonly functions: FunctionsService,
  ) {}

  async put(dto: PutSecretDto): Promise<SecretView> {
    const entries = Object.entries(dto.values ?? {});
    if (!entries.length) throw new ValidationError('values is empty; send at least one key, e.g. {"values": {"value": "s3cr3t"}}');
    for (const [key, value] of entries) {
      if (!KEY_PATTERN.test(key)) throw new ValidationError(`secret key "${key}" may only use letters, digits, "-", "_" and "."`);
      if (typeof value !== 'string') throw new ValidationError(`values.${key} must be a string`);
    }
    const size = entries.reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v, 'utf8'), 0);
    if (size > MAX_SECRET_BYTES) throw new ValidationError(`the secret is ${size} bytes; at most ${MAX_SECRET_BYTES} bytes are accepted`);
    const values = Object.fromEntries(entries);
    await this.repo.upsert(
      { name: dto.name, keys: Object.keys(values).sort(), values: this.cipher.seal(values), updatedAt: new Date() },
      { conflictPaths: ['name'] },
    );
    return toView(await this.repo.findOneByOrFail({ name: dto.name }));
  }

  async list(): Promise<SecretView[]> {
    const rows = await this.repo.find({ order: { name: 'ASC' }, select: LISTED });
    return rows.map(toView);
  }

  async delete(name: string): Promise<SecretView> {
    const found = await this.repo.findOne({ where: { name }, select: LISTED });
    if (!found) throw new NotFoundError(`secret "${name}" does not exist`);
    await this.repo.delete({ name });
    return toView(found);
  }

  /** One secret's keys (an event source's credentials: credentials_secret, sasl_secret); 404 when there is none. */
  async resolveNamed(name: string): Promise<Record<string, string>> {
    const row = await this.repo.findOneBy({ name });
    if (!row) throw new NotFoundError(`secret "${name}" does not exist; create it with PUT /api/v1/secrets/${name}`);
    return this.cipher.open(row.values, row.name);
  }

  /**
   * The config.secrets of the function's current version, or of `version` (a rollback, an alias or a split runs an
   * older version with the secrets its own config names), as env name -> value; 409 naming the first secret or key
   * that is missing.
   */
  async resolveFor(functionRef: string, version?: number): Promise<Record<string, string>> {
    const f = await this.functions.configOf(functionRef, version);
    const refs = f.config.secrets;
    if (!refs.length) return {};
    const names = [...new Set(refs.map((r) => r.secret))];
    const rows = await this.repo.find({ where: names.map((name) => ({ name })) });
    const byName = new Map(rows.map((r) => [r.name, this.cipher.open(r.values, r.name)]));
    const env: Record<string, string> = {};
    for (const ref of refs) {
      const values = byName.get(ref.secret);
      if (!values) {
        throw new StateError(
          `function ${f.label} needs secret "${ref.secret}" for ${ref.env}, but it does not exist; create it with PUT /api/v1/secrets/${ref.secret}`,
        );
      }
      if (!(ref.key in values)) {
        throw new StateError(
          `function ${f.label} needs key "${ref.key}" of secret "${ref.secret}" for ${ref.env}, but the secret has only ${Object.keys(values).join(', ')}`,
        );
      }
      env[ref.env] = values[ref.key];
    }
    return env;
  }
}
