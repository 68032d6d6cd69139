import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { DeploymentDriverName, DeploymentStatus, DeploymentView, FunctionRuntimeSpec } from '@platform/contracts';

/**
 * One deployment of one build of a function. A function has at most one deployment that is not DELETED
 * (a partial unique index guards it): a new deploy marks the previous one DELETED.
 */
@Entity({ name: 'deployments' })
@Index('deployments_current_per_function', ['functionId'], { unique: true, where: `status <> 'DELETED'` })
export class Deployment {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid')
  functionId: string;

  @Column('text')
  label: string;

  @Column('int')
  version: number;

  @Column('text')
  driver: DeploymentDriverName;

  @Column('text')
  status: DeploymentStatus;

  @Column('text')
  bundleDigest: string;

  @Column('text', { nullable: true })
  image: string | null;

  @Column('text', { nullable: true })
  url: string | null;

  @Column('text', { nullable: true })
  reason: string | null;

  @Column('jsonb')
  spec: FunctionRuntimeSpec;

  /** Plain env of a local deployment, never secret values (read from the registry when an invoker asks); null for knative. */
  @Column('jsonb', { nullable: true })
  env: Record<string, string> | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}

/** The wire shape, without env (invokers get it, with the secret values, from DeploymentsService). */
export function toView(d: Deployment): DeploymentView {
  const view: DeploymentView = {
    id: d.id,
    functionId: d.functionId,
    label: d.label,
    version: d.version,
    driver: d.driver,
    status: d.status,
    bundleDigest: d.bundleDigest,
    image: d.image,
    url: d.url,
    reason: d.reason,
    spec: d.spec,
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
  };
  return view;
}
