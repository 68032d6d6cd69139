import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'fs';
import * as path from 'path';
import { parse } from 'yaml';

export const CRD_FILE = path.join(__dirname, 'knative-serving-service-crd.yaml');

type Schema = Record<string, unknown> & { properties?: Record<string, Schema>; items?: Schema; additionalProperties?: unknown };

/**
 * The API server prunes fields a structural schema does not know (unless x-kubernetes-preserve-unknown-fields):
 * a misplaced field would silently vanish. Tests reject them instead, so a typo fails loudly.
 */
function rejectUnknownFields(schema: Schema): Schema {
  const out: Schema = { ...schema };
  if (out.properties) {
    out.properties = Object.fromEntries(Object.entries(out.properties).map(([k, v]) => [k, rejectUnknownFields(v)]));
    if (out['x-kubernetes-preserve-unknown-fields'] !== true && out.additionalProperties === undefined) out.additionalProperties = false;
  }
  if (out.items) out.items = rejectUnknownFields(out.items);
  if (out.additionalProperties && typeof out.additionalProperties === 'object') {
    out.additionalProperties = rejectUnknownFields(out.additionalProperties as Schema);
  }
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    if (Array.isArray(out[key])) out[key] = (out[key] as Schema[]).map(rejectUnknownFields);
  }
  return out;
}

/** The openAPIV3Schema of the CRD's v1 version, compiled with ajv. */
export function knativeServiceValidator(): ValidateFunction {
  const crd = parse(readFileSync(CRD_FILE, 'utf8')) as {
    spec: { group: string; names: { kind: string }; versions: Array<{ name: string; schema: { openAPIV3Schema: Schema } }> };
  };
  const v1 = crd.spec.versions.find((v) => v.name === 'v1');
  if (!v1) throw new Error(`${CRD_FILE} has no v1 version`);
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  return ajv.compile(rejectUnknownFields(v1.schema.openAPIV3Schema));
}

/** ObjectMeta rules the CRD schema leaves to the API server: a DNS-1123 name and string-valued labels/annotations. */
export function objectMetaProblems(meta: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (typeof meta.name !== 'string' || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(meta.name))
    problems.push(`metadata.name ${JSON.stringify(meta.name)} is not a DNS-1123 label`);
  for (const field of ['labels', 'annotations']) {
    const map = meta[field];
    if (map === undefined) continue;
    if (typeof map !== 'object' || map === null) problems.push(`metadata.${field} must be an object`);
    else for (const [k, v] of Object.entries(map)) if (typeof v !== 'string') problems.push(`metadata.${field}.${k} must be a string`);
  }
  const labels = (meta.labels ?? {}) as Record<string, string>;
  for (const v of Object.values(labels))
    if (!/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v) || v.length > 63) problems.push(`label value ${v} is invalid`);
  return problems;
}

/**
 * Knative's own rules for spec.traffic (the webhook's, which the CRD schema leaves out): percentages sum to 100,
 * each target names a revision or latestRevision (not both), a revisionName is the template's own or one that
 * exists, tags are unique DNS-1035 labels, and `{tag}-{service}` stays a valid host label.
 */
export function trafficProblems(
  svc: { metadata: { name: string }; spec: { template: { metadata: { name?: string } }; traffic?: unknown } },
  existingRevisions: string[],
): string[] {
  const traffic = svc.spec.traffic as Array<{ revisionName?: string; latestRevision?: boolean; percent?: number; tag?: string }> | undefined;
  if (!traffic) return [];
  const problems: string[] = [];
  const sum = traffic.reduce((n, t) => n + (t.percent ?? 0), 0);
  if (sum !== 100) problems.push(`traffic percentages sum to ${sum}, not 100`);
  const known = new Set([...existingRevisions, ...(svc.spec.template.metadata.name ? [svc.spec.template.metadata.name] : [])]);
  const tags = new Set<string>();
  traffic.forEach((t, i) => {
    if (t.revisionName && t.latestRevision === true) problems.push(`traffic[${i}]: revisionName and latestRevision: true together`);
    if (!t.revisionName && t.latestRevision !== true) problems.push(`traffic[${i}]: neither a revisionName nor latestRevision: true`);
    if (t.revisionName && !known.has(t.revisionName)) problems.push(`traffic[${i}]: revision ${t.revisionName} does not exist`);
    if (t.revisionName && !t.revisionName.startsWith(`${svc.metadata.name}-`))
      problems.push(`traffic[${i}]: revision ${t.revisionName} is not one of ${svc.metadata.name}`);
    if (t.percent !== undefined && (!Number.isInteger(t.percent) || t.percent < 0 || t.percent > 100))
      problems.push(`traffic[${i}]: percent ${t.percent} is not 0 to 100`);
    if (t.tag !== undefined) {
      if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(t.tag) || t.tag.length > 63) problems.push(`traffic[${i}]: tag ${t.tag} is not a DNS-1035 label`);
      if (`${t.tag}-${svc.metadata.name}`.length > 63) problems.push(`traffic[${i}]: ${t.tag}-${svc.metadata.name} is too long for a host label`);
      if (tags.has(t.tag)) problems.push(`traffic[${i}]: tag ${t.tag} appears twice`);
      tags.add(t.tag);
    }
  });
  return problems;
}

/**
 * Knative's webhook rules on a Service's revision template that the CRD schema leaves out (serving's
 * ValidateObjectMetadata, validateContainer, ValidateRevisionSpec and the autoscaling annotations), written from
 * Knative's code rather than from the platform's limits, so a test compares the two: the name is a DNS-1035 label,
 * no container sets a reserved env var, timeoutSeconds is at most max-revision-timeout-seconds (600 by default),
 * min-scale is at most max-scale, the autoscaling class, metric and target are ones Knative takes, and the networking visibility label takes only "cluster-local".
 */
export function webhookProblems(svc: {
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    template: {
      metadata: { annotations?: Record<string, string> };
      spec: { timeoutSeconds?: number; containers: Array<{ env?: Array<{ name: string }> }> };
    };
  };
}): string[] {
  const problems: string[] = [];
  const name = svc.metadata.name;
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63)
    problems.push(`metadata.name ${name}: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character`);
  const reserved = new Set(['PORT', 'K_SERVICE', 'K_CONFIGURATION', 'K_REVISION']);
  svc.spec.template.spec.containers.forEach((c, i) =>
    (c.env ?? []).forEach((e, j) => {
      if (reserved.has(e.name)) problems.push(`"${e.name}" is a reserved environment variable: spec.template.spec.containers[${i}].env[${j}].name`);
    }),
  );
  const timeout = svc.spec.template.spec.timeoutSeconds;
  if (timeout !== undefined && (timeout < 0 || timeout > 600)) problems.push(`expected 0 <= ${timeout} <= 600: spec.template.spec.timeoutSeconds`);
  const annotations = svc.spec.template.metadata.annotations ?? {};
  const min = Number(annotations['autoscaling.knative.dev/min-scale'] ?? '0');
  const max = Number(annotations['autoscaling.knative.dev/max-scale'] ?? '0');
  if (max !== 0 && min > max) problems.push(`min-scale=${min} is greater than max-scale=${max}: spec.template.metadata.annotations`);
  // serving's autoscaling validateClass, validateMetric and the target's bound (TargetMin 0.01): the KPA takes
  // concurrency and rps, the HPA class cpu, memory or any other (custom) metric name; other classes are left alone.
  const cls = annotations['autoscaling.knative.dev/class'] ?? 'kpa.autoscaling.knative.dev';
  if (cls.endsWith('.autoscaling.knative.dev') && !['kpa.autoscaling.knative.dev', 'hpa.autoscaling.knative.dev'].includes(cls))
    problems.push(`invalid value: ${cls}: autoscaling.knative.dev/class`);
  const metric = annotations['autoscaling.knative.dev/metric'];
  if (metric !== undefined) {
    const ok =
      cls === 'kpa.autoscaling.knative.dev' ? metric === 'concurrency' || metric === 'rps' : cls === 'hpa.autoscaling.knative.dev' ? metric !== '' : true;
    if (!ok) problems.push(`invalid value: ${metric}: autoscaling.knative.dev/metric`);
  }
  const target = annotations['autoscaling.knative.dev/target'];
  if (target !== undefined && !(Number(target) >= 0.01)) problems.push(`expected 0.01 <= ${target}: autoscaling.knative.dev/target`);
  const visibility = svc.metadata.labels?.['networking.knative.dev/visibility'];
  if (visibility !== undefined && visibility !== 'cluster-local') problems.push(`networking.knative.dev/visibility: "${visibility}" is not "cluster-local"`);
  return problems;
}
