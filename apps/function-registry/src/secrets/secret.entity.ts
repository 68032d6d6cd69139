import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** Encrypted values of a secret (AES-256-GCM); only the key names are stored in the clear, for listing. */
export interface SealedValues {
  v: 1;
  iv: string;
  tag: string;
  data: string;
}

@Entity({ name: 'secrets' })
export class SecretEntity {
  @PrimaryColumn('text')
  name: string;

  @Column('jsonb')
  keys: string[];

  @Column('jsonb')
  values: SealedValues;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
