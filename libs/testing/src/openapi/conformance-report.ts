import type { ConformanceMismatch, ConformanceSummary } from './conformance-proxy';

const mib = (bytes: number) => `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`;

/** One line per answer that differs from the document. */
export function mismatchLine(m: ConformanceMismatch): string {
  const body = m.body ? ` body: ${JSON.stringify(m.body)}` : '';
  return `${m.method} ${m.path} -> ${m.status} ${m.contentType ?? '(no content type)'} [${m.operation}]: ${m.problems.join(' | ')}${body}`;
}

/** The first lines of the report: what was checked and how much differs, per operation. */
export function summaryText(target: string, s: ConformanceSummary, maxBodyBytes: number): string {
  const ops = Object.entries(s.byOperation).sort((a, b) => b[1].mismatches - a[1].mismatches || b[1].checked - a[1].checked);
  const width = Math.max(10, ...ops.map(([k]) => k.length));
  return [
    `OpenAPI conformance of ${target}: ${s.checked} answers checked (${s.statusAndTypeOnly} by status and content type only: streams, or bodies over ${mib(maxBodyBytes)}); ` +
      `${s.outsideTheApi} outside the API (docs, health) not checked; ${s.cutOff} cut off by the gateway; ${s.mismatches} differ from the document.`,
    `${'operation'.padEnd(width)}  checked  mismatches`,
    ...ops.map(([op, c]) => `${op.padEnd(width)}  ${String(c.checked).padStart(7)}  ${String(c.mismatches).padStart(10)}`),
  ].join('\n');
}

/**
 * Mismatches of one kind together, most frequent first, with one example each. A kind is one problem of one
 * operation and status (array positions left out: `/items/3/url` counts as `/items/N/url`), so an answer with three
 * wrong fields counts in three kinds.
 */
export function groupedMismatches(found: ConformanceMismatch[], limit = Infinity, bodyChars = Infinity): string {
  const groups = new Map<string, { count: number; example: ConformanceMismatch }>();
  for (const m of found) {
    for (const problem of m.problems) {
      const key = `${m.operation} -> ${m.status} ${m.contentType?.split(';')[0] ?? '(no content type)'}: ${problem.replace(/\/\d+(?=\/|\s)/g, '/N')}`;
      const g = groups.get(key);
      if (g) g.count++;
      else groups.set(key, { count: 1, example: m });
    }
  }
  const sorted = [...groups].sort((a, b) => b[1].count - a[1].count);
  const example = (m: ConformanceMismatch) => `${m.method} ${m.path}${m.body ? ` -> ${JSON.stringify(m.body.slice(0, bodyChars))}` : ''}`;
  const shown = sorted.slice(0, limit).map(([key, g]) => `${String(g.count).padStart(5)} x ${key}\n        e.g. ${example(g.example)}`);
  if (sorted.length > limit) shown.push(`  ... and ${sorted.length - limit} more kinds`);
  return shown.join('\n');
}

export function conformanceReport(target: string, s: ConformanceSummary, found: ConformanceMismatch[], maxBodyBytes: number): string {
  const kept = found.length < s.mismatches ? ` (the first ${found.length} kept)` : '';
  return [
    summaryText(target, s, maxBodyBytes),
    '',
    `Mismatches by kind:`,
    groupedMismatches(found) || '  none',
    '',
    `Every mismatch${kept}:`,
    ...found.map(mismatchLine),
    '',
  ].join('\n');
}
