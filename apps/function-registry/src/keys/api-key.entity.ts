import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import type { ApiKeyScope } from '@platform/contracts';

/** An API key: only its sha256 and a short prefix are stored, never the key. */
@Entity({ name: 'api_keys' })
export class ApiKeyEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text')
  name: string;

  @Column('text')
  prefix: string;

  /** sha256 of the key, hex. */
  @Column('text')
  hash: string;

  @Column('text')
  scope: ApiKeyScope;

  /** Function ids an invoke key may call. */
  @Column('jsonb')
  functions: string[];

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @Column({ type: 'timestamptz', nullable: true })
  revokedAt: Date | null;
}
