'use strict';
// The one table a peer bench prints: a row per figure, a column per target, then hks/peer ratios.

/** a / b as "3.20x" (two significant decimals below 10), or "-" when either is missing. */
function ratio(a, b) {
  if (typeof a !== 'number' || typeof b !== 'number' || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '-';
  const r = a / b;
  return `${r < 10 ? r.toFixed(2) : r.toFixed(1)}x`;
}

/**
 * rows: [{label, values: [number|undefined per target], format: (v) => string, note?}]; targets: column names, the
 * first being the one compared (hks). Returns the lines of a Markdown table, columns padded to line up in a terminal.
 */
function formatTable(targets, rows) {
  const [self, ...peers] = targets;
  const header = ['', ...targets, ...peers.map((p) => `${self}/${p}`)];
  const body = rows.map((r) => {
    const cells = targets.map((_, i) => r.values[i]).map((v) => (v === undefined || v === null ? '-' : r.format(v)));
    const ratios = peers.map((_, i) => ratio(r.values[0], r.values[i + 1]));
    return [r.label, ...cells, ...ratios];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((row) => row[c].length)));
  const line = (cells) => `| ${cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...body.map(line)];
}

module.exports = { ratio, formatTable };
