/** A line chart in plain SVG: one or more series over time, an axis with its unit, and a table-free legend. */
export interface Series {
  name: string;
  className: string;
  points: Array<{ t: number; v: number | null }>;
}

interface Props {
  title: string;
  unit: string;
  series: Series[];
  width?: number;
  height?: number;
}

const PAD = { left: 48, right: 12, top: 22, bottom: 28 };

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

const clock = (t: number) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function Chart({ title, unit, series, width = 560, height = 200 }: Props) {
  const all = series.flatMap((s) => s.points);
  const ts = all.map((p) => p.t);
  const vs = all.map((p) => p.v).filter((v): v is number => v !== null);
  const t0 = Math.min(...ts);
  const t1 = Math.max(...ts);
  const max = niceMax(Math.max(0, ...vs));
  const w = width - PAD.left - PAD.right;
  const h = height - PAD.top - PAD.bottom;
  const x = (t: number) => PAD.left + (t1 === t0 ? w / 2 : ((t - t0) / (t1 - t0)) * w);
  const y = (v: number) => PAD.top + h - (v / max) * h;
  /** The first series' total (e.g. the invocations drawn), so a reader or a test sees what the chart adds up to. */
  const total = (series[0]?.points ?? []).reduce((a, p) => a + (p.v ?? 0), 0);
  const summary = series.map((s) => `${s.name}: ${s.points.filter((p) => p.v !== null).length} points`).join(', ');

  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      {all.length === 0 ? (
        <p className="muted">No data in this period.</p>
      ) : (
        <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${title} (${unit}); ${summary}`} data-points={vs.length} data-total={total}>
          {[0, 0.5, 1].map((f) => (
            <g key={f}>
              <line className="grid" x1={PAD.left} x2={width - PAD.right} y1={y(max * f)} y2={y(max * f)} />
              <text className="axis" x={PAD.left - 6} y={y(max * f) + 4} textAnchor="end">
                {Math.round(max * f * 100) / 100}
              </text>
            </g>
          ))}
          <text className="axis" x={PAD.left} y={height - 8}>
            {clock(t0)}
          </text>
          <text className="axis" x={width - PAD.right} y={height - 8} textAnchor="end">
            {clock(t1)}
          </text>
          <text className="axis" x={4} y={10}>
            {unit}
          </text>
          {series.map((s) => {
            const pts = s.points.filter((p): p is { t: number; v: number } => p.v !== null);
            return (
              <g key={s.name} className={s.className}>
                <polyline fill="none" points={pts.map((p) => `${x(p.t)},${y(p.v)}`).join(' ')} />
                {pts.map((p) => (
                  <circle key={p.t} cx={x(p.t)} cy={y(p.v)} r={3}>
                    <title>{`${s.name} ${clock(p.t)}: ${p.v} ${unit}`}</title>
                  </circle>
                ))}
              </g>
            );
          })}
        </svg>
      )}
      <ul className="legend">
        {series.map((s) => (
          <li key={s.name} className={s.className}>
            <span className="swatch" aria-hidden="true" /> {s.name}
          </li>
        ))}
      </ul>
    </figure>
  );
}
