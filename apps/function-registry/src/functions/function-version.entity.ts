import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import type { FunctionConfigDto, TemplateName, VersionBuildStatus } from '@platform/contracts';

/**
 * Snapshot of a function's code and configuration, one per version (kept for history and rollback). The code and
 * config columns are written once; only the build columns move, as builds of the version run.
 */
@Entity({ name: 'function_versions' })
export class FunctionVersionEntity {
  @PrimaryColumn('uuid')
  functionId: string;

  @PrimaryColumn('int')
  version: number;

  @Column('text')
  template: TemplateName;

  @Column('text')
  runtime: string;

  @Column('text', { nullable: true })
  handler: string | null;

  @Column('jsonb', { nullable: true })
  files: Record<string, string> | null;

  @Column('text')
  entrypoint: string;

  @Column('jsonb')
  config: FunctionConfigDto;

  /** buildSourceDigest of this version: equal digests are the same code and configuration. */
  @Column('text', { nullable: true })
  sourceDigest: string | null;

  @Column('uuid', { nullable: true })
  buildId: string | null;

  @Column('text', { nullable: true })
  buildStatus: VersionBuildStatus | null;

  @Column('text', { nullable: true })
  buildError: string | null;

  @Column('text', { nullable: true })
  bundleDigest: string | null;

  @Column('text', { nullable: true })
  image: string | null;

  /** The exact runtime version its build was made for (python3.9 -> 3.9.18): what it runs on. */
  @Column('text', { nullable: true })
  runtimeVersion: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
