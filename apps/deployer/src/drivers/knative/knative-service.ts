import {
  FUNCTION_PORT,
  knativeConfigProblems,
  knativeRevisionName,
  LABEL_PATTERN,
  LATEST_ALIAS,
  MAX_NAME_LENGTH,
  revisionNameFits,
  scalingTarget,
  type FunctionRuntimeSpec,
  type Routing,
  versionTag,
} from '@platform/contracts';
import { functionSecretName } from './function-secrets';

export const KNATIVE_GROUP = 'serving.knative.dev';
export const KNATIVE_VERSION = 'v1';
export const KNATIVE_PLURAL = 'services';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'hks' } as const;
export const FUNCTION_ID_LABEL = 'hks.dev/function-id';
/**
 * On the Service: Knative gives it no route on the public ingress, only its cluster-local address. Calls to a
 * function go through the gateway and the invoker (keys, rate limits, events), never straight to Knative.
 */
export const CLUSTER_LOCAL = { 'networking.knative.dev/visibility': 'cluster-local' } as const;

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

/** One entry of a Service's traffic block (spec.traffic). */
export interface TrafficTarget {
  revisionName?: string;
  latestRevision?: boolean;
  percent: number;
  tag?: string;
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
      metadata: { name?: string; labels: Record<string, string>; annotations: Record<string, string> };
      spec: {
        containerConcurrency: number;
        timeoutSeconds: number;
        imagePullSecrets?: Array<{ name: string }>;
        containers: Array<{
          name: string;
          image: string;
          ports: Array<{ containerPort: number; name?: string }>;
          env: EnvVar[];
          resources: { limits: Record<string, string>; requests: Record<string, string> };
        }>;
      };
    };
    traffic?: TrafficTarget[];
    [key: string]: unknown;
  };
  status?: {
    observedGeneration?: number;
    /** The public URL (the cluster-local one too, once the Service is cluster-local); not what the platform calls. */
    url?: string;
    /** The cluster-local address (http://{name}.{namespace}.svc.cluster.local): where the invoker calls the function. */
    address?: { url?: string };
    conditions?: Condition[];
    latestReadyRevisionName?: string;
    latestCreatedRevisionName?: string;
  };
}

/** On the revision template: a digest of the version's secret values (never the values), so a rotation makes a new revision. */
export const SECRETS_DIGEST_ANNOTATION = 'hks.dev/secrets-digest';
/** The shims' get_secret/getSecret learn the function's config.secrets ({env, secret, key}, no values) from it. */
export const SECRET_REFS_ENV = 'HKS_SECRET_REFS';

export interface KnativeServiceOptions {
  /** Digest of the values in the version's Secret (valuesDigest). */
  secretsDigest?: string;
  /** A kubernetes.io/dockerconfigjson Secret in the namespace the kubelet pulls the image with. */
  pullSecret?: string;
  /** The revision each version runs as, where it is not `{service}-v{n}` (see KnativeDriver.revisionNames). */
  revisionNames?: Record<number, string>;
}

/**
 * The Knative Service that runs a function's image: named after the label, image by digest, env and secrets
 * (by reference to the version's own Secret, functionSecretName: the values stay in Kubernetes), resources, timeout,
 * concurrency and autoscaling bounds.
 */
export function knativeService(
  spec: FunctionRuntimeSpec,
  namespace: string,
  deploymentId: string,
  routing?: Routing,
  others: number[] = [],
  options: KnativeServiceOptions = {},
): KnativeService {
  if (!spec.image) throw new Error('knativeService needs spec.image');
  // Revision names become label values (at most 63 characters): a label too long for `-v{n}` gets no named
  // revisions, so it can run one version only (its routing is refused before this, see versionsProblem).
  if (routing && !revisionNameFits(spec.label, spec.version)) routing = undefined;
  const { env, secrets, resources, scaling } = spec.config;
  const labels = { ...MANAGED_BY, [FUNCTION_ID_LABEL]: spec.functionId, 'app.kubernetes.io/name': spec.label };
  const memory = `${resources.memoryMb}Mi`;
  const requests: Record<string, string> = { memory };
  if (resources.cpu) requests.cpu = resources.cpu;
  const envVars: EnvVar[] = [
    ...Object.entries(env).map(([name, value]) => ({ name, value })),
    ...secrets.map((s) => ({ name: s.env, valueFrom: { secretKeyRef: { name: functionSecretName(spec.label, spec.version), key: s.env } } })),
    ...(secrets.length ? [{ name: SECRET_REFS_ENV, value: JSON.stringify(secrets.map(({ env, secret, key }) => ({ env, secret, key }))) }] : []),
  ];
  const names = (v: number) => options.revisionNames?.[v] ?? revisionName(spec.label, v);
  return {
    apiVersion: `${KNATIVE_GROUP}/${KNATIVE_VERSION}`,
    kind: 'Service',
    metadata: {
      name: spec.label,
      namespace,
      // The visibility label goes on the Service only: on the revision template Knative would ignore it.
      labels: { ...labels, ...CLUSTER_LOCAL },
      // Annotations on the Service itself do not create a revision; they say which deployment wrote it.
      annotations: { 'hks.dev/deployment-id': deploymentId, 'hks.dev/version': String(spec.version), 'hks.dev/bundle-digest': spec.bundleDigest },
    },
    spec: {
      template: {
        metadata: {
          // A named revision per version ({service}-v{n}), so the traffic block can name older versions.
          ...(routing ? { name: names(spec.version) } : {}),
          labels,
          annotations: {
            ...autoscalingAnnotations(scaling, resources.memoryMb),
            ...(options.secretsDigest ? { [SECRETS_DIGEST_ANNOTATION]: options.secretsDigest } : {}),
          },
        },
        spec: {
          containerConcurrency: scaling.concurrency,
          timeoutSeconds: Math.max(1, Math.ceil(resources.timeoutMs / 1000)),
          ...(options.pullSecret ? { imagePullSecrets: [{ name: options.pullSecret }] } : {}),
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
      ...(routing ? { traffic: knativeTraffic(spec.label, spec.version, routing, others, names) } : {}),
    },
  };
}

export const KPA_CLASS = 'kpa.autoscaling.knative.dev';
export const HPA_CLASS = 'hpa.autoscaling.knative.dev';

/**
 * The revision's autoscaling annotations for scaling.metric: concurrency and rps on Knative's own autoscaler (KPA,
 * which scales to zero); cpu, memory and a custom metric on the HPA class (Knative's HPA extension: no scale to zero,
 * so min-scale is at least 1; a custom metric needs a custom metrics adapter, e.g. prometheus-adapter, serving it
 * for the function's pods). The target is per instance: requests in flight, requests per second, CPU % of the
 * request, memory in Mi, or the custom metric's value.
 */
export function autoscalingAnnotations(scaling: FunctionRuntimeSpec['config']['scaling'], memoryMb: number): Record<string, string> {
  const metric = scaling.metric ?? 'concurrency';
  const kpa = metric === 'concurrency' || metric === 'rps';
  return {
    // Concurrency on the KPA is Knative's default: written as before, so the template of a revision deployed before
    // metrics existed stays the same (Knative refuses a named revision whose template changed).
    ...(metric === 'concurrency'
      ? {}
      : {
          'autoscaling.knative.dev/class': kpa ? KPA_CLASS : HPA_CLASS,
          'autoscaling.knative.dev/metric': metric === 'custom' ? scaling.customMetric! : metric,
        }),
    'autoscaling.knative.dev/min-scale': String(kpa ? scaling.minInstances : Math.max(1, scaling.minInstances)),
    'autoscaling.knative.dev/max-scale': String(scaling.maxInstances),
    'autoscaling.knative.dev/target': String(scalingTarget({ ...scaling, metric }, memoryMb)),
  };
}

/** The revision a version runs as: `{service}-v{n}` (Knative requires the Service's name as its prefix). */
export function revisionName(service: string, version: number): string {
  return knativeRevisionName(service, version);
}

/**
 * Why Knative would refuse this function's Service, or undefined: the API refuses such a config at create and update
 * (knative-limits), but a label or config stored before those rules may still reach the driver.
 */
export function knativeProblem(spec: FunctionRuntimeSpec): string | undefined {
  if (!LABEL_PATTERN.test(spec.label))
    return `the label ${spec.label} cannot name a Knative Service (a DNS-1035 label: lowercase letters, digits and dashes, starting with a letter); rename the function`;
  const { env, secrets, resources, scaling } = spec.config;
  const problems = knativeConfigProblems({ env, secrets, resources, scaling });
  return problems.length ? `Knative would refuse this function's Service: ${problems.join('; ')}` : undefined;
}

/**
 * The traffic block: the split's percentages by revision (all to the deployed version without one), a tag v{n} on
 * every version that runs (its own URL, v{n}-{service}..., which the invoker calls once it picked the version), and a
 * tag per alias. Knative's rules: percentages sum to 100, tags unique DNS-1035 labels, revisionName the template's or
 * an existing revision's.
 */
export function knativeTraffic(
  service: string,
  version: number,
  routing: Routing,
  others: number[],
  names: (v: number) => string = (v) => revisionName(service, v),
): TrafficTarget[] {
  const splits = routing.splits?.length ? routing.splits : [{ version, percent: 100 }];
  // One version, nothing aliased: no tags (their hosts would only lengthen the names Knative has to accept).
  if (!others.length && !Object.keys(routing.aliases).length && splits.length === 1) return [{ revisionName: names(version), percent: 100 }];
  const targets: TrafficTarget[] = splits.map((s) => ({ revisionName: names(s.version), percent: s.percent, tag: versionTag(s.version) }));
  for (const v of [version, ...others])
    if (!targets.some((t) => t.tag === versionTag(v))) targets.push({ revisionName: names(v), percent: 0, tag: versionTag(v) });
  targets.push({ revisionName: names(version), percent: 0, tag: LATEST_ALIAS });
  for (const [alias, v] of Object.entries(routing.aliases)) targets.push({ revisionName: names(v), percent: 0, tag: alias });
  return targets;
}

export type Readiness = { state: 'ready'; url: string | null } | { state: 'failed'; reason: string } | { state: 'pending'; reason: string };

/**
 * Reads a Service's status the way `kn` does: only conditions of the current generation count. The URL is the
 * cluster-local address (status.address.url), which answers from inside the cluster whatever the visibility.
 */
export function readiness(svc: KnativeService): Readiness {
  const generation = svc.metadata.generation;
  const observed = svc.status?.observedGeneration;
  if (generation !== undefined && (observed === undefined || observed < generation)) {
    return { state: 'pending', reason: `generation ${generation} not yet observed by Knative` };
  }
  const ready = svc.status?.conditions?.find((c) => c.type === 'Ready');
  const why = ready ? [ready.reason, ready.message].filter(Boolean).join(': ') : '';
  if (ready?.status === 'True') return { state: 'ready', url: svc.status?.address?.url ?? null };
  if (ready?.status === 'False') return { state: 'failed', reason: why || 'Ready=False without a reason' };
  return { state: 'pending', reason: why || 'no Ready condition yet' };
}

/** Why a Service cannot carry this routing, or undefined. */
export function versionsProblem(spec: FunctionRuntimeSpec, routing: Routing | undefined, others: number[]): string | undefined {
  const wantsVersions = others.length > 0 || Object.keys(routing?.aliases ?? {}).length > 0 || (routing?.splits?.length ?? 0) > 1;
  if (!wantsVersions || !routing) return undefined;
  const long = [
    revisionName(spec.label, Math.max(spec.version, ...others)),
    ...knativeTraffic(spec.label, spec.version, routing, others).map((t) => `${t.tag}-${spec.label}`),
  ].find((n) => n.length > MAX_NAME_LENGTH);
  if (long)
    return `the label ${spec.label} is too long for several versions on Knative (${long} passes 63 characters, the limit of a revision name and a tag's host); it can run one version only`;
  return undefined;
}
