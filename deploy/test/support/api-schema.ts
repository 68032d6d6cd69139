/**
 * Checks objects against the Kubernetes API twice: kubernetes-models' JSON-schema validators
 * (required fields, types, enums) and @kubernetes/client-node's attribute maps, which know every
 * field of every type and so catch the misspelt or misplaced ones the schemas let through.
 */
import * as models from '@kubernetes/client-node/dist/gen/models/all.js';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import type { K8sObject } from './manifests';

/**
 * A kubernetes-models class. Its constructor takes the kind's typed data; it gets the parsed YAML here, unchecked
 * (hence `never`: no type to promise), and validate() then checks it against the kind's schema.
 */
type ModelClass = new (data: never) => { validate(): void };

const MODELS: Record<string, ModelClass> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
};

/** Throws with kubernetes-models' message when the object breaks the API schema. */
export function validateAgainstSchema(object: K8sObject): void {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (!Model) throw new Error(`no schema known for ${object.apiVersion} ${object.kind}; add it to deploy/test/support/api-schema.ts`);
  new Model(object as never).validate();
}

const typeRegistry = models as unknown as Record<string, { getAttributeTypeMap?: () => { baseName: string; type: string }[] }>;

/** client-node's name for a kind: apps/v1 Deployment -> V1Deployment, autoscaling/v2 ... -> V2... */
function topLevelType(object: K8sObject): string {
  const version = object.apiVersion.split('/').pop() ?? '';
  return version.charAt(0).toUpperCase() + version.slice(1) + object.kind;
}

/** Paths of fields the Kubernetes API does not have (`spec.template.spec.containers[0].readinesProbe`). */
export function unknownFields(object: K8sObject): string[] {
  const problems: string[] = [];
  const type = topLevelType(object);
  if (!typeRegistry[type]?.getAttributeTypeMap) return [`no field list known for ${type}`];
  walk(object, type, object.kind, problems);
  return problems;
}

function walk(value: unknown, type: string, at: string, problems: string[]): void {
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, array[1], `${at}[${i}]`, problems));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, map[1], `${at}.${k}`, problems);
    return;
  }
  const model = typeRegistry[type];
  if (!model?.getAttributeTypeMap || typeof value !== 'object' || Array.isArray(value)) return;
  const attributes = model.getAttributeTypeMap();
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const attribute = attributes.find((a) => a.baseName === key);
    if (!attribute) problems.push(`${at}.${key} is not a field of ${type}`);
    else walk(child, attribute.type, `${at}.${key}`, problems);
  }
}
