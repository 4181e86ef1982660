/**
 * SLA tiles: open goals with a deadline on open or held cases (the set GET /v1/goals lists),
 * counted by SLA state, overall and per queue, plus the next breach. A goal's `sla` is set by
 * its SLA points as they fire; a goal without one (no warning configured yet fired) is on track.
 * The counts are the rollup of migration 0071, kept exact by triggers on goal_views.
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

/** The SLA counts (migration 0071): the folded rows and the deltas not yet folded, in one snapshot. */
export const SLA_COUNT_ROWS = sql`(select template_key, queue, sla, n from goal_sla_counts
  union all select template_key, queue, sla, n from goal_sla_count_deltas)`;

/**
 * Counts from the rollup (a few hundred rows however many goals there are). The next breach: per
 * queue with an unbreached goal (the counts say which), the first entry of that queue's range of
 * the partial index of unbreached active goals — one probe each; none for a queue whose goals
 * are all breached.
 */
export async function readSlaTiles(db: Kysely<Database>, filters: { template?: string; queue?: string } = {}): Promise<SlaTiles> {
  const template = filters.template ? sql`and template_key = ${filters.template}` : sql``;
  const unbreached = sql`status = 'open' and case_status in ('open', 'on_hold') and deadline_at is not null
    and coalesce(sla, 'on_track') <> 'breached' ${template}`;
  const rows = await sql<{ queue: string | null; on_track: number; at_risk: number; breached: number; next_breach: Date | string | null }>`
    with counts as (
      select queue,
        coalesce(sum(n) filter (where sla = 'on_track'), 0)::int as on_track,
        coalesce(sum(n) filter (where sla = 'at_risk'), 0)::int as at_risk,
        coalesce(sum(n) filter (where sla = 'breached'), 0)::int as breached,
        coalesce(sum(n) filter (where sla <> 'breached'), 0)::int as unbreached
      from ${SLA_COUNT_ROWS} x
      where true ${template} ${filters.queue ? sql`and queue = ${filters.queue}` : sql``}
      group by queue
      having sum(n) > 0
    )
    select c.queue, c.on_track, c.at_risk, c.breached,
      case when c.unbreached = 0 then null
        when c.queue is null then (select deadline_at from goal_views where queue is null and ${unbreached} order by deadline_at limit 1)
        else (select deadline_at from goal_views where queue = c.queue and ${unbreached} order by deadline_at limit 1)
      end as next_breach
    from counts c
    order by coalesce(c.queue, '')`.execute(db);
  const tiles: SlaTiles = { onTrack: 0, atRisk: 0, breached: 0, byQueue: {}, nextBreachAt: null };
  let next: number | undefined;
  for (const r of rows.rows) {
    tiles.onTrack += r.on_track;
    tiles.atRisk += r.at_risk;
    tiles.breached += r.breached;
    // No queue and the empty queue share the key '' (as the tiles always showed them).
    const q = (tiles.byQueue[r.queue ?? ''] ??= { onTrack: 0, atRisk: 0, breached: 0 });
    q.onTrack += r.on_track;
    q.atRisk += r.at_risk;
    q.breached += r.breached;
    if (r.next_breach !== null) {
      const at = new Date(r.next_breach).getTime();
      if (next === undefined || at < next) next = at;
    }
  }
  tiles.nextBreachAt = next === undefined ? null : new Date(next).toISOString();
  return tiles;
}
