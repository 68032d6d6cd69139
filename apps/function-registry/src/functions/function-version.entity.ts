import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import type { FunctionConfigDto, TemplateName } from '@platform/contracts';

/** Snapshot of a function's code and configuration, one per version (kept for history and rollback). */
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

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
