/** How commands print data: aligned tables for people, JSON for scripts (`--output json`). */
export type OutputFormat = 'table' | 'json';

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/** Columns padded to their widest cell; the last column is never padded, so lines carry no trailing spaces. */
export function table(headers: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = [headers, ...rows.map((r) => r.map(cell))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return (
    cells
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** "key: value" lines with the keys aligned; undefined values are left out. */
export function fields(pairs: Array<[string, string | number | null | undefined]>): string {
  const shown = pairs.filter(([, v]) => v !== undefined);
  const width = Math.max(...shown.map(([k]) => k.length)) + 1;
  return shown.map(([k, v]) => `${(k + ':').padEnd(width)} ${cell(v)}`.trimEnd()).join('\n') + '\n';
}

function cell(v: string | number | null | undefined): string {
  if (v === null || v === undefined || v === '') return '-';
  return String(v).replace(/\s*\n\s*/g, ' ');
}

export function percent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '-';
  const p = ratio * 100;
  return `${p === 0 || p >= 10 ? p.toFixed(p % 1 === 0 ? 0 : 1) : p.toFixed(2)}%`;
}

/** ISO time -> "2026-01-31 12:00:05" in local time, what a person reading a terminal expects. */
export function localTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A value printed to a terminal: strings as they are, everything else as JSON. */
export function showValue(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  return JSON.stringify(value, null, 2);
}
