import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'crypto';
import { EntityManager, FindOptionsSelect, Repository } from 'typeorm';
import {
  buildSourceDigest,
  ConflictError,
  CreateFunctionDto,
  EventName,
  EventNames,
  EventType,
  FunctionPage,
  FunctionRuntimeSpec,
  FunctionStatus,
  FunctionVersionView,
  FunctionView,
  isUuid,
  ListFunctionsQueryDto,
  newEvent,
  NotFoundError,
  SetDeploymentStatusCommand,
  StateError,
  UpdateFunctionDto,
} from '@platform/contracts';
import { EventPublisher } from '@platform/messaging';
import { effectiveConfigOf, runtimeFamily } from '@platform/runtimes';
import { buildFiles, checkConfig, checkLabel, FunctionSource, mergeUpdate, plainConfig, resolveSource, row, sameJson } from './function-rules';
import { FunctionEntity } from './function.entity';
import { FunctionVersionEntity } from './function-version.entity';
import { toRuntimeSpec, toVersionView, toView, versionRuntimeSpec } from './function-view';

export const SOURCE = 'function-registry';

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string } };
  return (e?.driverError?.code ?? e?.code) === '23505';
}

function labelTaken(label: string): ConflictError {
  return new ConflictError(`a function labelled "${label}" already exists; choose another label or update it with PUT /api/v1/functions/${label}`);
}

@Injectable()
export class FunctionsService {
  private readonly logger = new Logger(FunctionsService.name);

  constructor(
    @InjectRepository(FunctionEntity) private readonly repo: Repository<FunctionEntity>,
    private readonly events: EventPublisher,
  ) {}

  /** By id or label; 404 naming what was asked for when neither matches. `select` limits the columns read. */
  async find(ref: string, manager: EntityManager = this.repo.manager, lock = false, select?: FindOptionsSelect<FunctionEntity>): Promise<FunctionEntity> {
    const ids = typeof ref === 'string' ? ref.trim() : '';
    const where = isUuid(ids) ? [{ id: ids.toLowerCase() }, { label: ids }] : [{ label: ids }];
    const found = await manager.findOne(FunctionEntity, {
      where,
      ...(select ? { select } : {}),
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
    if (!found) throw new NotFoundError(`function "${ref}" does not exist`);
    return found;
  }

  async create(dto: CreateFunctionDto): Promise<FunctionView> {
    checkLabel(dto.label);
    const source = resolveSource(dto);
    const config = plainConfig(dto.config);
    checkConfig(config);
    const id = randomUUID();
    if (await this.repo.existsBy({ label: dto.label })) throw labelTaken(dto.label);
    try {
      await this.repo.manager.transaction(async (m) => {
        await m.insert(
          FunctionEntity,
          row<FunctionEntity>({
            id,
            label: dto.label,
            description: dto.description ?? null,
            ...source,
            config,
            status: FunctionStatus.Created,
            statusReason: null,
            version: 1,
          }),
        );
        await m.insert(FunctionVersionEntity, row(snapshot(id, 1, source, config)));
      });
    } catch (err) {
      // Two creates with one label at the same moment: the unique constraint decides.
      if (isUniqueViolation(err)) throw labelTaken(dto.label);
      throw err;
    }
    const saved = await this.find(id);
    await this.publish(EventNames.FunctionCreated, 'FUNCTION_CREATED', saved);
    return toView(saved);
  }

  async list(q: ListFunctionsQueryDto): Promise<FunctionPage> {
    const limit = q.limit ?? 50;
    const offset = q.offset ?? 0;
    const qb = this.repo.createQueryBuilder('f').orderBy('f.created_at', 'DESC').addOrderBy('f.id', 'ASC').take(limit).skip(offset);
    if (q.label) qb.where(`f.label LIKE :pattern ESCAPE '\\'`, { pattern: `%${q.label.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%` });
    const [rows, total] = await qb.getManyAndCount();
    return { items: rows.map(toView), total, limit, offset };
  }

  async get(ref: string): Promise<FunctionView> {
    return toView(await this.find(ref));
  }

  /**
   * The function without its code (handler and files are null, and not even read): for callers that
   * need its id, label or config, such as the gateway's access checks and label lookups.
   */
  async resolve(ref: string): Promise<FunctionView> {
    // Every column but the code, which can be megabytes.
    const select: FindOptionsSelect<FunctionEntity> = Object.fromEntries(
      this.repo.metadata.columns.filter((c) => c.propertyName !== 'handler' && c.propertyName !== 'files').map((c) => [c.propertyName, true]),
    );
    const f = await this.find(ref, undefined, false, select);
    return { ...toView(f), handler: null, files: null };
  }

  /**
   * Fields given replace the stored ones (config as a whole; null clears). A change to the code or the
   * configuration makes a new version that has to be built again.
   */
  async update(ref: string, changes: UpdateFunctionDto): Promise<FunctionView> {
    let changed: string[] = [];
    let id = '';
    try {
      await this.repo.manager.transaction(async (m) => {
        const f = await this.find(ref, m, true);
        id = f.id;
        const source = resolveSource(mergeUpdate(f, changes));
        const config = changes.config !== undefined ? plainConfig(changes.config) : f.config;
        // Only a config sent is checked: one stored before a rule existed still takes a new description or code.
        if (changes.config !== undefined) checkConfig(config);
        const codeFields: Array<[string, unknown, unknown]> = [
          ['template', f.template, source.template],
          ['runtime', f.runtime, source.runtime],
          ['handler', f.handler, source.handler],
          ['files', f.files, source.files],
          ['entrypoint', f.entrypoint, source.entrypoint],
          ['config', f.config, config],
        ];
        changed = codeFields.filter(([, before, after]) => !sameJson(before, after)).map(([name]) => name);
        const label = changes.label ?? f.label;
        const description = changes.description !== undefined ? (changes.description ?? null) : f.description;
        if (label !== f.label) {
          // Only a new label must follow today's rules: an older one (say, starting with a digit) may be sent back as it is.
          checkLabel(label);
          changed.push('label');
          if (await m.existsBy(FunctionEntity, { label })) throw labelTaken(label);
        }
        if (description !== f.description) changed.push('description');
        if (!changed.length) return;
        const newVersion = changed.some((c) => c !== 'label' && c !== 'description');
        const patch: Partial<FunctionEntity> = { label, description, ...source, config };
        if (newVersion) {
          const next = snapshot(f.id, 0, source, config);
          // Code and configuration identical to an older version's are that version again, not a new one; its build
          // (if it has one) is deployable at once.
          const same = await m.findOne(FunctionVersionEntity, { where: { functionId: f.id, sourceDigest: next.sourceDigest! }, order: { version: 'DESC' } });
          if (same && same.version === f.version) {
            // Only the spelling of the configuration changed (same effective config): still this version.
          } else if (same) {
            const built = same.buildStatus === 'SUCCEEDED' && same.bundleDigest;
            Object.assign(patch, {
              version: same.version,
              status: built ? FunctionStatus.Built : FunctionStatus.Created,
              statusReason: null,
              ...(built ? { bundleDigest: same.bundleDigest, image: same.image, builtVersion: same.version, builtRuntimeVersion: same.runtimeVersion } : {}),
            });
            changed.push(`version ${same.version} again`);
          } else {
            const [{ max }] = (await m.query(`SELECT max("version") AS max FROM "registry"."function_versions" WHERE "function_id" = $1`, [f.id])) as Array<{
              max: number | null;
            }>;
            const version = Math.max(max ?? 0, f.version) + 1;
            Object.assign(patch, { version, status: FunctionStatus.Created, statusReason: null });
            await m.insert(FunctionVersionEntity, row({ ...next, version }));
          }
        }
        await m.update(FunctionEntity, { id: f.id }, row(patch));
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw labelTaken(changes.label ?? ref);
      throw err;
    }
    const saved = await this.find(id);
    if (changed.length) await this.publish(EventNames.FunctionUpdated, 'FUNCTION_UPDATED', saved, { changed });
    return toView(saved);
  }

  async delete(ref: string): Promise<FunctionView> {
    const f = await this.find(ref);
    const result = await this.repo.delete({ id: f.id });
    if (!result.affected) throw new NotFoundError(`function "${ref}" does not exist`);
    // The deployer undeploys when it sees this event.
    await this.publish(EventNames.FunctionDeleted, 'FUNCTION_DELETED', f);
    return toView(f);
  }

  /** What runs the function's current version, or `version` (which must have a successful build). */
  async runtimeSpec(ref: string, version?: number): Promise<FunctionRuntimeSpec> {
    const f = await this.find(ref);
    if (version === undefined || version === f.version) return toRuntimeSpec(f);
    return versionRuntimeSpec(f, await this.version(f, version));
  }

  /** Every version, newest first, without its code. */
  async versions(ref: string): Promise<FunctionVersionView[]> {
    const f = await this.find(ref, undefined, false, { id: true });
    const rows = await this.repo.manager.find(FunctionVersionEntity, {
      where: { functionId: f.id },
      select: {
        functionId: true,
        version: true,
        template: true,
        runtime: true,
        entrypoint: true,
        config: true,
        sourceDigest: true,
        buildStatus: true,
        buildError: true,
        bundleDigest: true,
        image: true,
        createdAt: true,
      },
      order: { version: 'DESC' },
    });
    return rows.map((v) => toVersionView(v, false));
  }

  /**
   * The effective configuration of the function's current version, or of `version`: what a deployment of that
   * version runs with (its secrets and env are its own, whatever the function's config says now).
   */
  async configOf(ref: string, version?: number): Promise<{ label: string; config: ReturnType<typeof effectiveConfigOf> }> {
    const f = await this.find(ref, undefined, false, { id: true, label: true, version: true, config: true, family: true });
    if (version === undefined || version === f.version) return { label: f.label, config: effectiveConfigOf(f.config, f.family) };
    const v = await this.version(f, version);
    const family = runtimeFamily(v.runtime);
    if (!family) throw new StateError(`version ${v.version} of function ${f.label} has a runtime (${v.runtime}) this platform no longer runs`);
    return { label: f.label, config: effectiveConfigOf(v.config, family) };
  }

  async getVersion(ref: string, version: number): Promise<FunctionVersionView> {
    const f = await this.find(ref, undefined, false, { id: true, label: true });
    return toVersionView(await this.version(f, version), true);
  }

  private async version(f: Pick<FunctionEntity, 'id' | 'label'>, version: number): Promise<FunctionVersionEntity> {
    const v = await this.repo.manager.findOne(FunctionVersionEntity, { where: { functionId: f.id, version } });
    if (!v) {
      const [{ max }] = (await this.repo.query(`SELECT max("version") AS max FROM "registry"."function_versions" WHERE "function_id" = $1`, [f.id])) as Array<{
        max: number | null;
      }>;
      throw new NotFoundError(
        `function ${f.label} has no version ${version} (its versions are 1 to ${max ?? 1}; GET /api/v1/functions/${f.id}/versions lists them)`,
      );
    }
    return v;
  }

  /** The deployer reports progress; a report about an older version than the current one is ignored. */
  async setDeploymentStatus(cmd: SetDeploymentStatusCommand): Promise<FunctionView> {
    const f = await this.find(cmd.functionId);
    if (cmd.version !== undefined && cmd.version !== f.version) {
      this.logger.log(`ignored ${cmd.status} for ${f.label} version ${cmd.version}: the function is at version ${f.version}`);
      return toView(f);
    }
    const statusReason = cmd.status === FunctionStatus.Failed ? (cmd.reason ?? 'the deployment failed') : null;
    await this.repo.update({ id: f.id, version: f.version }, { status: cmd.status, statusReason });
    return toView(await this.find(f.id));
  }

  private async publish(name: EventName, type: EventType, f: FunctionEntity, extra: Record<string, unknown> = {}): Promise<void> {
    await this.events.publish(
      newEvent({
        name,
        type,
        status: 'SUCCESS',
        source: SOURCE,
        functionId: f.id,
        functionLabel: f.label,
        // A summary: the code itself can be large and is available from the registry.
        payload: { id: f.id, label: f.label, version: f.version, template: f.template, runtime: f.runtime, status: f.status, ...extra },
      }),
    );
  }
}

function snapshot(functionId: string, version: number, s: FunctionSource, config: FunctionEntity['config']): Partial<FunctionVersionEntity> {
  return {
    sourceDigest: buildSourceDigest({
      template: s.template,
      runtime: s.runtime,
      family: s.family,
      files: buildFiles(s),
      entrypoint: s.entrypoint,
      config: effectiveConfigOf(config, s.family),
    }),
    functionId,
    version,
    template: s.template,
    runtime: s.runtime,
    handler: s.handler,
    files: s.files,
    entrypoint: s.entrypoint,
    config,
  };
}
