import type { FunctionConfig } from '../api';

export const percent = (rate: number) => `${(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)} %`;

/** The kinds of a function's triggers, e.g. "http, schedule" ("invoke API" when it has none). */
export function triggerKinds(config: FunctionConfig): string {
  const kinds = [...new Set((config.triggers ?? []).map((t) => t.type))];
  return kinds.length ? kinds.join(', ') : 'invoke API';
}

const TONES: Record<string, string> = {
  READY: 'ok',
  SUCCEEDED: 'ok',
  SUCCESS: 'ok',
  BUILT: 'info',
  BUILDING: 'busy',
  DEPLOYING: 'busy',
  RUNNING: 'busy',
  QUEUED: 'busy',
  PENDING: 'busy',
  FAILED: 'bad',
  FAILURE: 'bad',
};

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge ${TONES[status] ?? 'plain'}`}>{status}</span>;
}

export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '–');
