/**
 * SLA attainment as a horizontal bar chart drawn by hand in SVG (no chart library): one bar per
 * template or queue, split into on time / late / breached, with the percentage written beside
 * it — the numbers are text, the colours only repeat them. A table of the same figures follows
 * for screen readers and copying.
 */
import type { AttainmentGroup } from './types';

const BAR_H = 22;
const GAP = 10;
const LABEL_W = 170;
const BAR_W = 360;
const PCT_W = 120;

const pct = (v: number | null) => (v === null ? 'nothing due' : `${Math.round(v * 100)} % on time`);

export function AttainmentChart({ groups, title }: { groups: AttainmentGroup[]; title: string }) {
  if (groups.length === 0) return <p class="muted">No goal had its deadline or outcome in this period.</p>;
  const height = groups.length * (BAR_H + GAP) + GAP;
  const width = LABEL_W + BAR_W + PCT_W;
  return (
    <figure class="attainment">
      <svg viewBox={`0 0 ${width} ${height}`} width="100%" role="img" aria-label={`${title}: ${groups.map((g) => `${g.key ?? 'none'} ${pct(g.attainment)}`).join(', ')}`}>
        {groups.map((g, i) => {
          const y = GAP + i * (BAR_H + GAP);
          const total = Math.max(1, g.due);
          const onTime = (g.achieved_on_time / total) * BAR_W;
          const late = (g.achieved_late / total) * BAR_W;
          const breached = (g.breached_open / total) * BAR_W;
          return (
            <g key={g.key ?? '(none)'}>
              <text x={LABEL_W - 8} y={y + BAR_H / 2 + 4} text-anchor="end" class="chart-label">{g.key ?? '(no queue)'}</text>
              <rect x={LABEL_W} y={y} width={BAR_W} height={BAR_H} class="bar-bg" />
              {g.due > 0 && <rect x={LABEL_W} y={y} width={onTime} height={BAR_H} class="bar-ok"><title>{`${g.achieved_on_time} on time`}</title></rect>}
              {g.due > 0 && <rect x={LABEL_W + onTime} y={y} width={late} height={BAR_H} class="bar-warn"><title>{`${g.achieved_late} achieved late`}</title></rect>}
              {g.due > 0 && <rect x={LABEL_W + onTime + late} y={y} width={breached} height={BAR_H} class="bar-bad"><title>{`${g.breached_open} breached, still open`}</title></rect>}
              <text x={LABEL_W + BAR_W + 8} y={y + BAR_H / 2 + 4} class="chart-label">{pct(g.attainment)}</text>
            </g>
          );
        })}
      </svg>
      <figcaption class="legend">
        <span class="swatch ok" aria-hidden="true" /> on time <span class="swatch warn" aria-hidden="true" /> achieved late{' '}
        <span class="swatch bad" aria-hidden="true" /> breached (open)
      </figcaption>
      <table class="data compact">
        <caption class="visually-hidden">{title}</caption>
        <thead>
          <tr><th scope="col">Group</th><th scope="col">Due</th><th scope="col">On time</th><th scope="col">Late</th><th scope="col">Breached open</th><th scope="col">Pending</th><th scope="col">Attainment</th></tr>
        </thead>
        <tbody>
          {groups.map((g) => (
            <tr key={g.key ?? '(none)'}>
              <th scope="row">{g.key ?? '(no queue)'}</th><td>{g.due}</td><td>{g.achieved_on_time}</td><td>{g.achieved_late}</td><td>{g.breached_open}</td><td>{g.pending}</td><td>{pct(g.attainment)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
