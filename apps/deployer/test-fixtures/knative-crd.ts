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
