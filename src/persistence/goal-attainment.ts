/**
 * The goal_views rollups: folding the deltas the goal_views triggers append — into one row per
 * (day, template, queue) for SLA attainment (migration 0070) and one per (template, queue, SLA
 * state) for the SLA tiles (migration 0071) — and splitting a report period into the whole past
 * days the attainment rollup answers and the edges goal_views answers.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

const DAY_MS = 86_400_000;

/**
 * Moves every committed delta into goal_attainment_days and goal_sla_counts, in one transaction
 * (each delete and its upsert commit together, so a delta counts in exactly one of the two tables
 * at any time). Two workers at once: one folds, the other skips (transaction-scoped advisory
 * lock, safe behind a transaction pooler). Returns the delta rows folded (both rollups).
 */
export async function foldGoalAttainment(db: Kysely<Database>): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const { rows: lock } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(hashtext('tessera.goal_attainment_fold')) as locked`.execute(trx);
    if (!lock[0]?.locked) return 0;
    const { rows } = await sql<{ n: number }>`
      with moved as (
        delete from goal_attainment_deltas returning day, template_key, queue, on_time, late, open
      ), sums as (
        select day, template_key, queue, sum(on_time)::int as on_time, sum(late)::int as late, sum(open)::int as open, count(*)::int as n
        from moved group by day, template_key, queue
      ), folded as (
        insert into goal_attainment_days as d (day, template_key, queue, on_time, late, open)
        select day, template_key, queue, on_time, late, open from sums
        on conflict (day, template_key, queue) do update
          set on_time = d.on_time + excluded.on_time, late = d.late + excluded.late, open = d.open + excluded.open
        returning 1
      )
      select coalesce((select sum(n) from sums), 0)::int as n, (select count(*) from folded) as groups`.execute(trx);
    const { rows: tiles } = await sql<{ n: number }>`
      with moved as (
        delete from goal_sla_count_deltas returning template_key, queue, sla, n
      ), sums as (
        select template_key, queue, sla, sum(n)::int as n, count(*)::int as deltas from moved group by template_key, queue, sla
      ), folded as (
        insert into goal_sla_counts as c (template_key, queue, sla, n)
        select template_key, queue, sla, n from sums
        on conflict (template_key, queue, sla) do update set n = c.n + excluded.n
        returning 1
      )
      select coalesce((select sum(deltas) from sums), 0)::int as n, (select count(*) from folded) as groups`.execute(trx);
    return (rows[0]?.n ?? 0) + (tiles[0]?.n ?? 0);
  });
}

export interface ReportSplit {
  /** Whole UTC days [from, to) the rollup answers (all before the day of `now`); absent when none. */
  rolled?: { from: Date; to: Date };
  /** Ranges of outcome time goal_views answers. */
  live: { from: Date; to: Date }[];
}

const floorDay = (t: Date) => new Date(Math.floor(t.getTime() / DAY_MS) * DAY_MS);
const ceilDay = (t: Date) => new Date(Math.ceil(t.getTime() / DAY_MS) * DAY_MS);

/**
 * Pure. The rollup may answer a whole day only if every open goal counted on it is already
 * breached, i.e. the day ends no later than the start of `now`'s day.
 */
export function splitReportPeriod(from: Date, to: Date, now: Date): ReportSplit {
  const rolledFrom = ceilDay(from);
  const rolledTo = new Date(Math.min(floorDay(to).getTime(), floorDay(now).getTime()));
  if (rolledTo.getTime() <= rolledFrom.getTime()) return { live: [{ from, to }] };
  const live = [
    { from, to: rolledFrom },
    { from: rolledTo, to },
  ].filter((r) => r.to.getTime() > r.from.getTime());
  return { rolled: { from: rolledFrom, to: rolledTo }, live };
}
