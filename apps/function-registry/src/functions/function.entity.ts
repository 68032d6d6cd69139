import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { BuildSummary, FunctionConfigDto, FunctionStatus, RuntimeFamily, TemplateName } from '@platform/contracts';

/**
 * A function and its current version. The latest build request is tracked in the build_* columns;
 * the last successful build (what can be deployed) in bundle_digest / image / built_version, so a
 * rebuild in progress does not hide the bundle that is already good.
 */
@Entity({ name: 'functions' })
export class FunctionEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text', { unique: true })
  label: string;

  @Column('text', { nullable: true })
  description: string | null;

  @Column('text')
  template: TemplateName;

  @Column('text')
  runtime: string;

  @Column('text')
  family: RuntimeFamily;

  /** The code itself, or with `files` the entry point as the user sent it. */
  @Column('text', { nullable: true })
  handler: string | null;

  @Column('jsonb', { nullable: true })
  files: Record<string, string> | null;

  @Column('text')
  entrypoint: string;

  @Column('jsonb')
  config: FunctionConfigDto;

  @Column('text')
  status: FunctionStatus;

  @Column('text', { nullable: true })
  statusReason: string | null;

  @Column('int')
  version: number;

  @Column('uuid', { nullable: true })
  buildId: string | null;

  /** The version the latest build request was made for. */
  @Column('int', { nullable: true })
  buildVersion: number | null;

  @Column('text', { nullable: true })
  buildStatus: BuildSummary['status'] | null;

  @Column('text', { nullable: true })
  buildError: string | null;

  @Column('timestamptz', { nullable: true })
  buildRequestedAt: Date | null;

  @Column('timestamptz', { nullable: true })
  buildStartedAt: Date | null;

  @Column('timestamptz', { nullable: true })
  buildFinishedAt: Date | null;

  @Column('text', { nullable: true })
  bundleDigest: string | null;

  @Column('text', { nullable: true })
  image: string | null;

  /** The exact runtime version of the last successful build: what the function runs on. */
  @Column('text', { nullable: true })
  builtRuntimeVersion: string | null;

  /** Version of the last successful build: deployable only while it equals `version`. */
  @Column('int', { nullable: true })
  builtVersion: number | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
