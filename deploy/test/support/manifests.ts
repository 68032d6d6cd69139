/**
 * Reads the deploy/ tree the way kustomize does (files listed in kustomization.yaml), without a
 * cluster or a kustomize binary, so the specs can check what `kubectl apply -k` would create.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'fs';
import * as path from 'path';
import type {
  KubernetesObject,
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1LabelSelector,
  V1Namespace,
  V1NetworkPolicy,
  V1NetworkPolicyIngressRule,
  V1NetworkPolicyPeer,
  V1NetworkPolicySpec,
  V1PersistentVolumeClaim,
  V1PodDisruptionBudget,
  V1Role,
  V1RoleBinding,
  V1Secret,
  V1Service,
  V1ServiceAccount,
  V1StatefulSet,
  V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const DEPLOY_DIR = path.join(REPO_ROOT, 'deploy');

/** The six services and the ports agreed for them (CONTRIBUTING.md). */
export const PLATFORM_APPS = [
  { name: 'gateway', port: 8080, portEnv: 'GATEWAY_PORT' },
  { name: 'invoker', port: 8081, portEnv: 'INVOKER_PORT' },
  { name: 'function-registry', port: 8082, portEnv: 'REGISTRY_PORT' },
  { name: 'builder', port: 8083, portEnv: 'BUILDER_PORT' },
  { name: 'deployer', port: 8084, portEnv: 'DEPLOYER_PORT' },
  { name: 'event-store', port: 8085, portEnv: 'EVENT_STORE_PORT' },
] as const;
export type PlatformApp = (typeof PLATFORM_APPS)[number];

export const PLATFORM_NAMESPACE = 'hks-system';
export const FUNCTIONS_NAMESPACE = 'functions';

/**
 * An object of the manifests as the specs read it: client-node's type of its kind with every field taken as
 * present, the way the YAML is written (`deployment.spec.template.spec`); a spec that reads a field the YAML lacks
 * fails there. Field names and value types are the Kubernetes API's.
 */
export type Manifest<T> = T extends Date ? T : T extends (infer U)[] ? Manifest<U>[] : T extends object ? { [K in keyof T]-?: Manifest<NonNullable<T[K]>> } : T;

/** Any object: its kind and metadata (namespace optional). */
export type K8sObject = Manifest<Omit<KubernetesObject, 'metadata'>> & {
  metadata: Manifest<Omit<NonNullable<KubernetesObject['metadata']>, 'namespace'>> & { namespace?: string };
};

/** A NetworkPolicy as YAML has it: its ingress rules name their peers `from` (client-node's type: `_from`). */
export type NetworkPolicyYaml = Omit<V1NetworkPolicy, 'spec'> & {
  spec?: Omit<V1NetworkPolicySpec, 'ingress'> & { ingress?: (Omit<V1NetworkPolicyIngressRule, '_from'> & { from?: V1NetworkPolicyPeer[] })[] };
};

/** The kinds the manifests hold, by name. */
export interface Kinds {
  ConfigMap: Manifest<V1ConfigMap>;
  Deployment: Manifest<V1Deployment>;
  HorizontalPodAutoscaler: Manifest<V2HorizontalPodAutoscaler>;
  Namespace: Manifest<V1Namespace>;
  NetworkPolicy: Manifest<NetworkPolicyYaml>;
  PersistentVolumeClaim: Manifest<V1PersistentVolumeClaim>;
  PodDisruptionBudget: Manifest<V1PodDisruptionBudget>;
  Role: Manifest<V1Role>;
  RoleBinding: Manifest<V1RoleBinding>;
  Secret: Manifest<V1Secret>;
  Service: Manifest<V1Service>;
  ServiceAccount: Manifest<V1ServiceAccount>;
  StatefulSet: Manifest<V1StatefulSet>;
}

export function isKind<K extends keyof Kinds>(object: K8sObject, kind: K): object is K8sObject & Kinds[K] {
  return object.kind === kind;
}

export interface LoadedObject {
  /** Path relative to deploy/. */
  file: string;
  object: K8sObject;
}

/** Every document of a YAML file; a syntax error fails loudly with the file's name. */
export function readYamlDocuments(file: string, options: { merge?: boolean } = {}): unknown[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { merge: options.merge ?? false });
  const out: unknown[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

/** YAML files under deploy/, relative to it (the specs' own folder excluded). */
export function deployYamlFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const full = path.join(dir, entry);
      const rel = path.relative(DEPLOY_DIR, full);
      if (statSync(full).isDirectory()) {
        if (rel !== 'test') walk(full);
      } else if (/\.ya?ml$/.test(entry)) out.push(rel);
    }
  };
  walk(DEPLOY_DIR);
  return out.sort();
}

export interface Kustomization {
  /** Directory relative to deploy/ ('' for deploy/ itself). */
  dir: string;
  kind: 'Kustomization' | 'Component';
  apiVersion: string;
  resources: string[];
  components: string[];
  patches: string[];
  raw: KustomizationFile;
}

type KustomizationFile = {
  kind: 'Kustomization' | 'Component';
  apiVersion: string;
  resources?: string[];
  components?: string[];
  patches?: { path?: string }[];
  [field: string]: unknown;
};

export function kustomizationDirs(): string[] {
  return deployYamlFiles()
    .filter((f) => path.basename(f) === 'kustomization.yaml')
    .map((f) => path.dirname(f))
    .map((d) => (d === '.' ? '' : d));
}

export function readKustomization(dir: string): Kustomization {
  const file = path.join(DEPLOY_DIR, dir, 'kustomization.yaml');
  const [raw] = readYamlDocuments(file) as KustomizationFile[];
  return {
    dir,
    kind: raw.kind,
    apiVersion: raw.apiVersion,
    resources: raw.resources ?? [],
    components: raw.components ?? [],
    patches: (raw.patches ?? []).map((p) => p.path).filter((p): p is string => Boolean(p)),
    raw,
  };
}

/** The objects a kustomization's resources produce (files and nested kustomization directories). */
export function loadKustomizationObjects(dir: string): LoadedObject[] {
  const k = readKustomization(dir);
  const out: LoadedObject[] = [];
  for (const resource of k.resources) {
    const rel = path.normalize(path.join(dir, resource));
    const full = path.join(DEPLOY_DIR, rel);
    if (existsSync(full) && statSync(full).isDirectory()) out.push(...loadKustomizationObjects(rel));
    else for (const object of readYamlDocuments(full)) out.push({ file: rel, object: object as K8sObject });
  }
  return out;
}

export const platformObjects = (): LoadedObject[] => loadKustomizationObjects('');
export const devInfraObjects = (): LoadedObject[] => loadKustomizationObjects('dev-infra');

export function findObject(objects: LoadedObject[], kind: string, name: string, namespace?: string): K8sObject | undefined {
  return objects.find(
    (o) => o.object.kind === kind && o.object.metadata?.name === name && (namespace === undefined || o.object.metadata?.namespace === namespace),
  )?.object;
}

/** The object of that kind and name (typed by its kind); throws when the manifests have none. */
export function mustFind<K extends keyof Kinds>(objects: LoadedObject[], kind: K, name: string, namespace?: string): Kinds[K];
export function mustFind(objects: LoadedObject[], kind: string, name: string, namespace?: string): K8sObject;
export function mustFind(objects: LoadedObject[], kind: string, name: string, namespace?: string): K8sObject {
  const found = findObject(objects, kind, name, namespace);
  if (!found) throw new Error(`no ${kind} ${namespace ? namespace + '/' : ''}${name} in the manifests`);
  return found;
}

/** The containers of a workload's pod template (Deployment, StatefulSet ...); none for other kinds. */
export function templateContainers(object: K8sObject): Manifest<V1Container>[] {
  const workload = object as { spec?: { template?: { spec?: { containers?: Manifest<V1Container>[] } } } };
  return workload.spec?.template?.spec?.containers ?? [];
}

/** Does a label selector (matchLabels + matchExpressions) select these labels? */
export function selectorMatches(selector: V1LabelSelector | undefined, labels: Record<string, string> = {}): boolean {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const values = e.values ?? [];
    if (e.operator === 'In' && !(has && values.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && values.includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** Kubernetes quantities ("250m", "1", "512Mi") as numbers, to compare requests with limits. */
export function quantity(value: string | number): number {
  if (typeof value === 'number') return value;
  const m = /^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(value);
  if (!m) throw new Error(`not a Kubernetes quantity: ${value}`);
  const scale: Record<string, number> = {
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  return Number(m[1]) * (m[2] ? scale[m[2]] : 1);
}
