import { parseVersion, ValidationError, VERSION_RANGE } from '@platform/contracts';

/** The function an RPC names: `id` (uuid or label), also accepted as `functionId` or `label`. */
export function functionRef(payload: unknown): string {
  const p = (payload ?? {}) as Record<string, unknown>;
  const ref = p.id ?? p.functionId ?? p.label;
  if (typeof ref !== 'string' || ref.trim() === '') {
    throw new ValidationError('name the function: {"id": "<function id or label>"}');
  }
  return ref.trim();
}

/** The version a payload names: 400 unless a whole number from 1 to MAX_VERSION (larger ones are no Postgres integer). */
export function versionOf(payload: { version?: unknown } | undefined, optional: boolean): number | undefined {
  const v = payload?.version;
  if (v === undefined && optional) return undefined;
  // A number only (an RPC payload is JSON); "3" is not a version here.
  const version = typeof v === 'number' ? parseVersion(v, 'version') : `version must be ${VERSION_RANGE}, not ${JSON.stringify(v ?? null)}`;
  if (typeof version === 'string') throw new ValidationError(version);
  return version;
}
