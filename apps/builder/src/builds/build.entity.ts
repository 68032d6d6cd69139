import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { BuildStatus, BuildView } from '@platform/contracts';

const bigintAsNumber = {
  to: (v: number | null) => v,
  from: (v: string | null) => (v === null ? null : Number(v)),
};

/** One build of one function version; the log grows while the build runs. */
@Entity({ name: 'builds' })
export class Build {
  /** The build id the registry chose; also the BullMQ job id. */
  @PrimaryColumn('text')
  id: string;

  @Column('uuid')
  functionId: string;

  @Column('text')
  label: string;

  @Column('int')
  version: number;

  @Column('text')
  status: BuildStatus;

  @Column('text')
  template: string;

  @Column('text')
  runtime: string;

  @Column('text')
  entrypoint: string;

  @Column('text', { nullable: true })
  bundleDigest: string | null;

  @Column('bigint', { nullable: true, transformer: bigintAsNumber })
  bundleSize: number | null;

  @Column('text', { nullable: true })
  image: string | null;

  @Column('text', { nullable: true })
  imageDigest: string | null;

  @Column('text', { nullable: true })
  inputDigest: string | null;

  @Column('boolean', { default: false })
  cached: boolean;

  @Column('text', { nullable: true })
  error: string | null;

  @Column('text', { default: '' })
  log: string;

  @Column('timestamptz', { nullable: true })
  startedAt: Date | null;

  @Column('timestamptz', { nullable: true })
  finishedAt: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}

export function toBuildView(b: Build): BuildView {
  return {
    id: b.id,
    functionId: b.functionId,
    version: b.version,
    status: b.status,
    bundleDigest: b.bundleDigest,
    bundleSize: b.bundleSize,
    image: b.image,
    imageDigest: b.imageDigest,
    inputDigest: b.inputDigest,
    cached: b.cached,
    error: b.error,
    log: b.log,
    startedAt: b.startedAt ? b.startedAt.toISOString() : null,
    finishedAt: b.finishedAt ? b.finishedAt.toISOString() : null,
    createdAt: b.createdAt.toISOString(),
  };
}
