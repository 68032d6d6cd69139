import { FUNCTION_PORT, type FunctionRuntimeSpec } from '@platform/contracts';

export const KNATIVE_GROUP = 'serving.knative.dev';
export const KNATIVE_VERSION = 'v1';
export const KNATIVE_PLURAL = 'services';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'hks' } as const;
export const FUNCTION_ID_LABEL = 'hks.dev/function-id';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string } };
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
}

/** The parts of a serving.knative.dev/v1 Service the platform writes and reads. */
export interface KnativeService {
  apiVersion: string;
  kind: 'Service';
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    generation?: number;
    uid?: string;
    [key: string]: unknown;
  };
  spec: {
    template: {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: {
        containerConcurrency: number;
        timeoutSeconds: number;
        containers: Array<{
          name: string;
          image: string;
          ports: Array<{ containerPort: number; name?: string }>;
          env: EnvVar[];
          resources: { limits: Record<string, string>; requests: Record<string, string> };
        }>;
      };
    };
    [key: string]: unknown;
  };
  status?: {
    observedGeneration?: number;
    url?: string;
    conditions?: Condition[];
    latestReadyRevisionName?: string;
    latestCreatedRevisionName?: string;
  };
}

/**
 * The Knative Service that runs a function's image: named after the label, image by digest, env and secrets
 * (by reference: the values stay in Kubernetes), resources, timeout, concurrency and autoscaling bounds.
 */
export function knativeService(spec: FunctionRuntimeSpec, namespace: string, deploymentId: string): KnativeService {
  if (!spec.image) throw new Error('knativeService needs spec.image');
  const { env, secrets, resources, scaling } = spec.config;
  const labels = { ...MANAGED_BY, [FUNCTION_ID_LABEL]: spec.functionId, 'app.kubernetes.io/name': spec.label };
  const memory = `${resources.memoryMb}Mi`;
  const requests: Record<string, string> = { memory };
  if (resources.cpu) requests.cpu = resources.cpu;
  const envVars: EnvVar[] = [
    ...Object.entries(env).map(([name, value]) => ({ name, value })),
    ...secrets.map((s) => ({ name: s.env, valueFrom: { secretKeyRef: { name: s.secret, key: s.key } } })),
  ];
  return {
    apiVersion: `${KNATIVE_GROUP}/${KNATIVE_VERSION}`,
    kind: 'Service',
    metadata: {
      name: spec.label,
      namespace,
      labels,
      // Annotations on the Service itself do not create a revision; they say which deployment wrote it.
      annotations: { 'hks.dev/deployment-id': deploymentId, 'hks.dev/version': String(spec.version), 'hks.dev/bundle-digest': spec.bundleDigest },
    },
    spec: {
      template: {
        metadata: {
          labels,
          annotations: {
            'autoscaling.knative.dev/min-scale': String(scaling.minInstances),
            'autoscaling.knative.dev/max-scale': String(scaling.maxInstances),
            'autoscaling.knative.dev/target': String(scaling.target ?? scaling.concurrency),
          },
        },
        spec: {
          containerConcurrency: scaling.concurrency,
          timeoutSeconds: Math.max(1, Math.ceil(resources.timeoutMs / 1000)),
          containers: [
            {
              name: 'function',
              image: spec.image,
              ports: [{ containerPort: FUNCTION_PORT, name: 'http1' }],
              env: envVars,
              resources: { limits: { memory }, requests },
            },
          ],
        },
      },
    },
  };
}

export type Readiness = { state: 'ready'; url: string | null } | { state: 'failed'; reason: string } | { state: 'pending'; reason: string };

/** Reads a Service's status the way `kn` does: only conditions of the current generation count. */
export function readiness(svc: KnativeService): Readiness {
  const generation = svc.metadata.generation;
  const observed = svc.status?.observedGeneration;
  if (generation !== undefined && (observed === undefined || observed < generation)) {
    return { state: 'pending', reason: `generation ${generation} not yet observed by Knative` };
  }
  const ready = svc.status?.conditions?.find((c) => c.type === 'Ready');
  const why = ready ? [ready.reason, ready.message].filter(Boolean).join(': ') : '';
  if (ready?.status === 'True') return { state: 'ready', url: svc.status?.url ?? null };
  if (ready?.status === 'False') return { state: 'failed', reason: why || 'Ready=False without a reason' };
  return { state: 'pending', reason: why || 'no Ready condition yet' };
}
