/**
 * Sizes and durations as people write them in function.yaml and on the command line. Sizes follow Kubernetes
 * quantities (Mi = 2^20 bytes, M = 10^6 bytes) because the same values end up on Knative Services; the API wants
 * whole MiB, so decimal sizes are rounded up. Memory is the exception for "KB", "MB", "GB", "TB": see parseMemoryMb.
 */

const BINARY: Record<string, number> = { ki: 2 ** 10, mi: 2 ** 20, gi: 2 ** 30, ti: 2 ** 40 };
const DECIMAL: Record<string, number> = { k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12 };

/** "256Mi" -> 268435456; "1Gi", "512M", "64Ki", "100" (bytes). Undefined when it is not a size. */
export function parseBytes(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2];
  if (unit === '') return n;
  // Kubernetes spells binary units Ki/Mi/Gi exactly and decimal ones k/M/G (a lone "m" is milli, so it is
  // refused); "MB"/"gb" are read as decimal too.
  const lower = unit.toLowerCase();
  if (/^[KMGT]i$/.test(unit)) return n * BINARY[lower];
  if (/^[kKMGT]$/.test(unit) || /^[kmgt]b$/i.test(unit)) return n * DECIMAL[lower];
  return undefined;
}

/**
 * Memory in whole MiB; a bare number already means MiB ("memory: 256"). A memory size written with "MB" or "GB"
 * ("memory: 256MB") means MiB or GiB, as in AWS Lambda, Docker and most function docs: a user who writes 256MB
 * wants 256 MiB, not 245. Kubernetes' one-letter decimal units ("512M") keep their meaning.
 */
export function parseMemoryMb(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? Math.ceil(value) : undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.ceil(Number(value));
  const withB = /^\s*(\d+(?:\.\d+)?)\s*([kmgt])b\s*$/i.exec(value);
  if (withB) {
    const bytes = Number(withB[1]) * BINARY[`${withB[2].toLowerCase()}i`];
    return bytes > 0 ? Math.ceil(bytes / 2 ** 20) : undefined;
  }
  const bytes = parseBytes(value);
  return bytes === undefined || bytes <= 0 ? undefined : Math.ceil(bytes / 2 ** 20);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30s" -> 30000, "500ms", "2m", "1h30m", "1.5s"; a bare number is seconds. Undefined when it is not a duration. */
export function parseDurationMs(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(n) * DURATION_UNITS[unit];
  return Math.round(total);
}

/** 1234 -> "1.23 s", 45 -> "45 ms", 150000 -> "2m30s": for tables. */
export function formatDurationMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms >= 3_600_000) {
    const minutes = Math.round((ms % 3_600_000) / 60_000);
    return `${Math.floor(ms / 3_600_000)}h${minutes ? `${minutes}m` : ''}`;
  }
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds ? `${minutes}m${seconds}s` : `${minutes}m`;
}

/** A limit for messages: 0 -> "0s", 500 -> "500ms", 3600000 -> "1h", 604800000 -> "7d" (the largest exact unit). */
export function formatDurationLimit(ms: number): string {
  if (ms === 0) return '0s';
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
