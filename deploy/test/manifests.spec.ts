import { existsSync, statSync } from 'fs';
import * as path from 'path';
import { validateAgainstSchema, unknownFields } from './support/api-schema';
import {
  DEPLOY_DIR,
  deployYamlFiles,
  devInfraObjects,
  FUNCTIONS_NAMESPACE,
  K8sObject,
  Kinds,
  kustomizationDirs,
  LoadedObject,
  mustFind,
  PLATFORM_NAMESPACE,
  platformObjects,
  readKustomization,
  readYamlDocuments,
  templateContainers,
} from './support/manifests';

const platform = platformObjects();
const devInfra = devInfraObjects();
const everything = [...platform, ...devInfra];
const label = (o: LoadedObject) => `${o.file}: ${o.object.kind} ${o.object.metadata?.name}`;

const isMap = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const isNamed = (v: unknown): v is { name: unknown } => isMap(v) && 'name' in v;

/** Strategic-merge as kustomize applies it to these patches: maps merge, named list items merge by name. */
function strategicMerge(base: unknown, patch: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(patch) && patch.every(isNamed)) {
    const items: unknown[] = base;
    const nameOf = (b: unknown) => (isMap(b) ? b.name : undefined);
    const out = items.map((b) => {
      const p = patch.find((x) => x.name === nameOf(b));
      return p ? strategicMerge(b, p) : b;
    });
    return [...out, ...patch.filter((p) => !items.some((b) => nameOf(b) === p.name))];
  }
  if (isMap(base) && isMap(patch)) {
    const out = { ...base };
    for (const [k, v] of Object.entries(patch)) {
      // null deletes the field (a strategic merge patch's way to drop emptyDir for a claim, say).
      if (v === null) delete out[k];
      else out[k] = k in base ? strategicMerge(base[k], v) : v;
    }
    return out;
  }
  return patch;
}

describe('Kubernetes manifests', () => {
  it('parses every YAML file under deploy/ into complete objects', () => {
    const problems: string[] = [];
    for (const file of deployYamlFiles()) {
      const docs = readYamlDocuments(path.join(DEPLOY_DIR, file)) as K8sObject[];
      if (docs.length === 0) problems.push(`${file} is empty`);
      for (const doc of docs) {
        if (typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string') problems.push(`${file}: a document without apiVersion/kind`);
        const isKustomize = doc.kind === 'Kustomization' || doc.kind === 'Component';
        if (!isKustomize && typeof doc.metadata?.name !== 'string') problems.push(`${file}: a ${doc.kind} without metadata.name`);
      }
    }
    expect(problems).toEqual([]);
  });

  it.each(everything.map((o) => [label(o), o.object] as const))('%s is valid against the Kubernetes API schema', (_name, object) => {
    expect(() => validateAgainstSchema(object)).not.toThrow();
    expect(unknownFields(object)).toEqual([]);
  });

  it('puts every namespaced object in hks-system or functions, both of which it creates', () => {
    const misplaced = everything
      .filter(({ object }) => object.kind !== 'Namespace')
      .filter(({ object }) => ![PLATFORM_NAMESPACE, FUNCTIONS_NAMESPACE].includes(object.metadata.namespace ?? ''))
      .map(label);
    expect(misplaced).toEqual([]);
    expect(mustFind(platform, 'Namespace', PLATFORM_NAMESPACE)).toBeDefined();
    expect(mustFind(platform, 'Namespace', FUNCTIONS_NAMESPACE)).toBeDefined();
    expect(devInfra.map(({ object }) => object.metadata.namespace)).toEqual(devInfra.map(() => PLATFORM_NAMESPACE));
  });

  it('never declares the same object twice', () => {
    const keys = everything.map(({ object }) => `${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`);
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
  });

  it('pins every container image to a tag, never latest', () => {
    const images = everything.flatMap(({ object }) => templateContainers(object).map((c) => c.image));
    expect(images.length).toBeGreaterThan(0);
    for (const image of images) expect(image).toMatch(/^[a-z0-9./-]+:[A-Za-z0-9._-]+$/);
    expect(images).not.toContainEqual(expect.stringMatching(/:latest$/));
  });
});

describe('kustomizations', () => {
  const dirs = kustomizationDirs();

  it('exist for the platform, the dev infrastructure and the local-sandbox component', () => {
    expect(dirs.sort()).toEqual(['', 'components/local-sandbox', 'dev-infra']);
  });

  it.each(dirs.map((d) => [d || 'deploy/', d]))('%s lists only files and directories that exist', (_name, dir) => {
    const k = readKustomization(dir);
    const expectedApiVersion = k.kind === 'Component' ? 'kustomize.config.k8s.io/v1alpha1' : 'kustomize.config.k8s.io/v1beta1';
    expect(k.apiVersion).toBe(expectedApiVersion);
    const missing = [...k.resources, ...k.components, ...k.patches].filter((entry) => !existsSync(path.join(DEPLOY_DIR, dir, entry)));
    expect(missing).toEqual([]);
  });

  it('together list every YAML file under deploy/ exactly once', () => {
    const listed = dirs.flatMap((dir) => {
      const k = readKustomization(dir);
      return [...k.resources, ...k.patches]
        .map((entry) => path.normalize(path.join(dir, entry)))
        .filter((rel) => statSync(path.join(DEPLOY_DIR, rel)).isFile());
    });
    const files = deployYamlFiles().filter((f) => path.basename(f) !== 'kustomization.yaml');
    expect([...listed].sort()).toEqual(files);
  });

  it('let the image be retargeted in one place (images: hks/platform)', () => {
    const images = readKustomization('').raw.images;
    expect(images).toEqual([expect.objectContaining({ name: 'hks/platform', newTag: expect.any(String) })]);
  });
});

describe('the local-sandbox component', () => {
  const component = readKustomization('components/local-sandbox');
  const patches = component.patches.flatMap((p) => readYamlDocuments(path.join(DEPLOY_DIR, component.dir, p)) as K8sObject[]);

  it('is a kustomize Component that patches only objects of the platform', () => {
    expect(component.kind).toBe('Component');
    for (const patch of patches) expect(mustFind(platform, patch.kind, patch.metadata.name, patch.metadata.namespace)).toBeDefined();
  });

  it('leaves an invoker that is still valid, non-root and without capabilities', () => {
    const base = mustFind(platform, 'Deployment', 'invoker', PLATFORM_NAMESPACE);
    const patch = patches.find((p) => p.kind === 'Deployment' && p.metadata.name === 'invoker');
    const merged = strategicMerge(base, patch) as Kinds['Deployment'];
    expect(() => validateAgainstSchema(merged)).not.toThrow();
    expect(unknownFields(merged)).toEqual([]);
    const podSecurity = merged.spec.template.spec.securityContext;
    const container = merged.spec.template.spec.containers[0];
    expect(podSecurity).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'Unconfined' } });
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      appArmorProfile: { type: 'Unconfined' },
    });
    expect(container.env).toContainEqual({ name: 'INVOKER_PREWARM', value: '2' });
    expect(container.env).toContainEqual({ name: 'INVOKER_PREWARM_MAX', value: '8' });
    expect(container.securityContext.privileged).toBeUndefined();
    expect(container.securityContext.capabilities.add).toBeUndefined();
  });

  it('keeps the bundles the invoker downloads on one builder, on a ReadWriteOnce claim, replaced by Recreate', () => {
    const claims = component.resources.flatMap((r) => readYamlDocuments(path.join(DEPLOY_DIR, component.dir, r)) as K8sObject[]);
    const claim = claims.find((o) => o.kind === 'PersistentVolumeClaim') as Kinds['PersistentVolumeClaim'] | undefined;
    expect(claim?.spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(() => validateAgainstSchema(claim as K8sObject)).not.toThrow();
    const builder = strategicMerge(
      mustFind(platform, 'Deployment', 'builder', PLATFORM_NAMESPACE),
      patches.find((p) => p.kind === 'Deployment' && p.metadata.name === 'builder'),
    ) as Kinds['Deployment'];
    expect(() => validateAgainstSchema(builder)).not.toThrow();
    expect(unknownFields(builder)).toEqual([]);
    expect(builder.spec.strategy).toEqual({ type: 'Recreate' });
    const artifacts = builder.spec.template.spec.volumes.find((v) => v.name === 'artifacts');
    expect(artifacts).toEqual({ name: 'artifacts', persistentVolumeClaim: { claimName: claim?.metadata.name } });
    const hpa = strategicMerge(
      mustFind(platform, 'HorizontalPodAutoscaler', 'builder', PLATFORM_NAMESPACE),
      patches.find((p) => p.kind === 'HorizontalPodAutoscaler' && p.metadata.name === 'builder'),
    ) as Kinds['HorizontalPodAutoscaler'];
    expect(() => validateAgainstSchema(hpa)).not.toThrow();
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([1, 1]);
  });

  it('relaxes Pod Security admission for hks-system, which baseline would otherwise refuse', () => {
    const ns = patches.find((p) => p.kind === 'Namespace');
    expect(ns?.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('privileged');
    expect(mustFind(platform, 'Namespace', PLATFORM_NAMESPACE).metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('baseline');
  });
});
