/**
 * SLA tiles: open goals with a deadline on open or held cases (the set GET /v1/goals lists),
 * counted by SLA state, overall and per queue, plus the next breach. A goal's `sla` is set by
 * its SLA points as they fire; a goal without one (no warning configured yet fired) is on track.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface SlaCounts {
  onTrack: number;
  atRisk: number;
  breached: number;
}

export interface SlaTiles extends SlaCounts {
  /** Per case queue ('' for cases without one). */
  byQueue: Record<string, SlaCounts>;
  /** The soonest deadline of an open goal not yet breached; null when none. */
  nextBreachAt: string | null;
}

export async function readSlaTiles(db: Kysely<Database>, filters: { template?: string; queue?: string } = {}): Promise<SlaTiles> {
  const rows = await sql<{ queue: string; on_track: number; at_risk: number; breached: number; next_breach: Date | string | null }>`
    select coalesce(queue, '') as queue,
      count(*) filter (where coalesce(sla, 'on_track') = 'on_track')::int as on_track,
      count(*) filter (where sla = 'at_risk')::int as at_risk,
      count(*) filter (where sla = 'breached')::int as breached,
      min(deadline_at) filter (where coalesce(sla, 'on_track') <> 'breached') as next_breach
    from goal_views
    where status = 'open' and case_status in ('open', 'on_hold') and deadline_at is not null
      ${filters.template ? sql`and template_key = ${filters.template}` : sql``}
      ${filters.queue ? sql`and queue = ${filters.queue}` : sql``}
    group by 1
    order by 1`.execute(db);
  const tiles: SlaTiles = { onTrack: 0, atRisk: 0, breached: 0, byQueue: {}, nextBreachAt: null };
  let next: number | undefined;
  for (const r of rows.rows) {
    tiles.onTrack += r.on_track;
    tiles.atRisk += r.at_risk;
    tiles.breached += r.breached;
    tiles.byQueue[r.queue] = { onTrack: r.on_track, atRisk: r.at_risk, breached: r.breached };
    if (r.next_breach !== null) {
      const at = new Date(r.next_breach).getTime();
      if (next === undefined || at < next) next = at;
    }
  }
  tiles.nextBreachAt = next === undefined ? null : new Date(next).toISOString();
  return tiles;
}
