import { ValidationError } from '@platform/contracts';

/** The function an RPC names: `id` (uuid or label), also accepted as `functionId` or `label`. */
export function functionRef(payload: unknown): string {
  const p = (payload ?? {}) as Record<string, unknown>;
  const ref = p.id ?? p.functionId ?? p.label;
  if (typeof ref !== 'string' || ref.trim() === '') {
    throw new ValidationError('name the function: {"id": "<function id or label>"}');
  }
  return ref.trim();
}
