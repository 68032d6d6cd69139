/** The environment a container of the manifests would start with, resolved the way the kubelet does. */
import type { V1Container, V1Secret } from '@kubernetes/client-node';
import { expandKubernetesEnv } from './settings';
import { LoadedObject, mustFind } from './manifests';

function secretData(secret: V1Secret): Record<string, string> {
  const decoded = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64').toString('utf8')]));
  return { ...decoded, ...(secret.stringData ?? {}) };
}

export function containerEnv(objects: LoadedObject[], namespace: string, container: V1Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const prefix = source.prefix ?? '';
    const data = source.configMapRef
      ? (mustFind(objects, 'ConfigMap', source.configMapRef.name ?? '', namespace).data ?? {})
      : secretData(mustFind(objects, 'Secret', source.secretRef?.name ?? '', namespace));
    for (const [k, v] of Object.entries(data)) env[prefix + k] = String(v);
  }
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined) env[entry.name] = expandKubernetesEnv(String(entry.value), env);
    else if (entry.valueFrom?.configMapKeyRef) {
      const ref = entry.valueFrom.configMapKeyRef;
      env[entry.name] = String(mustFind(objects, 'ConfigMap', ref.name ?? '', namespace).data?.[ref.key] ?? '');
    } else if (entry.valueFrom?.secretKeyRef) {
      const ref = entry.valueFrom.secretKeyRef;
      env[entry.name] = secretData(mustFind(objects, 'Secret', ref.name ?? '', namespace))[ref.key] ?? '';
    } else env[entry.name] = `<${Object.keys(entry.valueFrom ?? {})[0] ?? 'unset'}>`;
  }
  return env;
}

export function secretValues(secret: V1Secret): Record<string, string> {
  return secretData(secret);
}
