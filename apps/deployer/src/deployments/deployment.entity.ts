import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import {
  CanaryView,
  DeploymentDriverName,
  DeploymentStatus,
  DeploymentView,
  functionUrls,
  FunctionRuntimeSpec,
  InvokerDeployment,
  Routing,
} from '@platform/contracts';

/** One more version of a deployment. */
export interface StoredVersion {
  spec: FunctionRuntimeSpec;
  /** Plain env, never secret values (read from the registry when a driver or an invoker needs them). */
  env: Record<string, string> | null;
  /** The tagged revision's URL (knative). */
  url?: string | null;
}

/** A canary's progress, as stored. */
export type CanaryRecord = CanaryView;

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

  /** Plain env of the deployment, never secret values (read from the registry when a driver or an invoker asks); null in rows written before the knative driver resolved secrets. */
  @Column('jsonb', { nullable: true })
  env: Record<string, string> | null;

  /** The other versions running beside `spec` (aliased or in the split), each with its plain env (local). */
  @Column('jsonb', { default: () => "'[]'" })
  versions: StoredVersion[];

  @Column('jsonb')
  routing: Routing;

  @Column('jsonb', { nullable: true })
  canary: CanaryRecord | null;

  /** When it first became READY: what rollback goes back to. */
  @Column('timestamptz', { nullable: true })
  servedAt: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}

/** The fields users and invokers both see. */
function common(d: Deployment): Omit<DeploymentView, 'url'> {
  return {
    id: d.id,
    functionId: d.functionId,
    label: d.label,
    version: d.version,
    driver: d.driver,
    status: d.status,
    bundleDigest: d.bundleDigest,
    image: d.image,
    reason: d.reason,
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
  };
}

/**
 * What users see (deploy and undeploy answers, deployment.* events): the function's public URL, never the row's
 * `url`; none for a function that /fn/ does not serve (it has triggers, none of them http).
 */
export function toView(d: Deployment): DeploymentView {
  const live = d.status === 'READY' || d.status === 'DEPLOYING';
  return { ...common(d), url: live ? (functionUrls(d.label, d.spec.config.triggers)[0] ?? null) : null };
}

/** What invokers are told: where to send invocations and what runs; DeploymentsService adds the env of local ones. */
export function toInvokerDeployment(d: Deployment): InvokerDeployment {
  return {
    ...common(d),
    endpoint: d.url,
    spec: d.spec,
    versions: (d.versions ?? []).map((v) => ({ spec: v.spec, endpoint: v.url ?? null })),
    routing: d.routing,
  };
}
