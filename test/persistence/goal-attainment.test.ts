/**
 * The SLA attainment rollup (migration 0070) answers exactly what the report over goal_views
 * answered: random goal rows across two weeks around "now" — inserted, upserted, updated (achieved,
 * late, cancelled, re-queued, case cancelled) and deleted by ordinary statements, so the triggers
 * see every kind of write — and then the report, for periods aligned and not aligned to days, in
 * the past, across now and in the future, grouped both ways and filtered, equals the reference
 * aggregate over goal_views: before the deltas are folded, after, and with both mixed.
 */
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldGoalAttainment, splitReportPeriod } from '../../src/persistence/goal-attainment.js';
import { slaAttainment, type AttainmentQuery } from '../../src/persistence/goal-queries.js';
import type { Database } from '../../src/persistence/schema.js';
import { openDatabase, type DatabaseHandle } from '../../src/platform/database.js';
import { createPrivateDatabase } from '../jobs/timer-stack.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
// Not on a day boundary, so "today" is a partial day.
const NOW = new Date(Date.UTC(2026, 5, 15, 13, 27, 11));

let database: { url: string; drop: () => Promise<void> };
let handle: DatabaseHandle;
let db: Kysely<Database>;

beforeAll(async () => {
  database = await createPrivateDatabase();
  handle = await openDatabase({ databaseUrl: database.url, dataDir: '/nonexistent', poolSize: 4 });
  db = handle.db;
});
afterAll(async () => {
  await handle?.close();
  await database?.drop();
});

/** The report as it was computed before the rollup: one aggregate over goal_views. */
async function reference(q: AttainmentQuery) {
  const key = q.groupBy === 'template' ? sql.ref('template_key') : sql.ref('queue');
  const { rows } = await sql<{ key: string | null; on_time: number; late: number; breached_open: number; pending: number }>`
    select ${key} as key,
      count(*) filter (where status = 'achieved' and not achieved_late)::int as on_time,
      count(*) filter (where status = 'achieved' and achieved_late)::int as late,
      count(*) filter (where status = 'open' and deadline_at <= ${q.now})::int as breached_open,
      count(*) filter (where status = 'open' and deadline_at > ${q.now})::int as pending
    from goal_views
    where deadline_at is not null and status <> 'cancelled'
      and coalesce(achieved_at, deadline_at) >= ${q.from} and coalesce(achieved_at, deadline_at) < ${q.to}
      and case_status <> 'cancelled'
      ${q.template ? sql`and template_key = ${q.template}` : sql``}
      ${q.queue ? sql`and queue = ${q.queue}` : sql``}
    group by 1 order by 1 nulls last`.execute(db);
  return rows.map((r) => ({ key: r.key, achievedOnTime: r.on_time, achievedLate: r.late, breachedOpen: r.breached_open, pending: r.pending }));
}

const periods: [string, Date, Date][] = [
  ['10 whole past days', new Date(Date.UTC(2026, 5, 4)), new Date(Date.UTC(2026, 5, 14))],
  ['ragged, ending now', new Date(NOW.getTime() - 9.3 * DAY), NOW],
  ['ragged, across now into the future', new Date(NOW.getTime() - 6.7 * DAY), new Date(NOW.getTime() + 2.2 * DAY)],
  ['inside one past day', new Date(NOW.getTime() - 3 * DAY - 5 * HOUR), new Date(NOW.getTime() - 3 * DAY + 2 * HOUR)],
  ['today only', new Date(Date.UTC(2026, 5, 15)), new Date(Date.UTC(2026, 5, 16))],
  ['future only', new Date(NOW.getTime() + 1 * HOUR), new Date(NOW.getTime() + 4 * DAY)],
  ['everything', new Date(NOW.getTime() - 30 * DAY), new Date(NOW.getTime() + 30 * DAY)],
];

async function expectSameAsReference(stage: string) {
  for (const [name, from, to] of periods) {
    for (const query of [
      { groupBy: 'template' as const },
      { groupBy: 'queue' as const },
      { groupBy: 'template' as const, queue: 'q-1' },
      { groupBy: 'queue' as const, template: 't-2' },
    ]) {
      const q: AttainmentQuery = { from, to, now: NOW, ...query };
      const got = await slaAttainment(db, q);
      const want = await reference(q);
      expect({ stage, name, query, groups: got.groups.map(({ key, achievedOnTime, achievedLate, breachedOpen, pending }) => ({ key, achievedOnTime, achievedLate, breachedOpen, pending })) }).toEqual({
        stage,
        name,
        query,
        groups: want,
      });
    }
  }
}

async function randomWrites(round: number) {
  await sql`select setseed(${0.1 + round / 10})`.execute(db);
  // Upserts: new goals, and existing goals rewritten (the command path's `on conflict do update`).
  await sql`
    insert into goal_views (case_id, goal_key, goal_title, case_title, template_key, template_version, queue, owner_id, priority,
      case_status, status, sla, required, ad_hoc, deadline_at, at_risk_at, breached_at, achieved_at, achieved_late, opened_at, updated_at)
    select c.id, 'g' || (random() * 3)::int, 'Goal', c.title, 't-' || (random() * 3)::int, 1,
      case when random() < 0.1 then null else 'q-' || (random() * 3)::int end, 'o', 'normal',
      (array['open', 'on_hold', 'resolved', 'cancelled'])[1 + (random() * 3.4)::int], x.status, null, true, false,
      x.deadline, null, null,
      case when x.status = 'achieved' then x.deadline + (random() - 0.6) * interval '2 days' end,
      x.status = 'achieved' and random() < 0.3, c.opened_at, c.opened_at
    from cases c
    cross join lateral (
      select (array['open', 'achieved', 'cancelled'])[1 + (random() * 2.2)::int] as status,
        case when random() < 0.05 then null else ${NOW}::timestamptz + (random() * 16 - 12) * interval '1 day' end as deadline
      where c.id is not null -- correlated, so it is drawn per case (an uncorrelated lateral runs once)
    ) x
    where random() < 0.6
    on conflict (case_id, goal_key) do update set status = excluded.status, deadline_at = excluded.deadline_at, achieved_at = excluded.achieved_at,
      achieved_late = excluded.achieved_late, case_status = excluded.case_status, queue = excluded.queue, template_key = excluded.template_key`.execute(db);
  // Goals achieved (some late), cases cancelled or re-queued, a title change (no effect on counts).
  await sql`update goal_views set status = 'achieved', achieved_at = coalesce(deadline_at, ${NOW}) + (random() - 0.5) * interval '1 day',
    achieved_late = random() < 0.5 where status = 'open' and random() < 0.3`.execute(db);
  await sql`update goal_views set case_status = 'cancelled' where random() < 0.05`.execute(db);
  await sql`update goal_views set queue = 'q-' || (random() * 3)::int where random() < 0.1`.execute(db);
  await sql`update goal_views set case_title = case_title || '.' where random() < 0.2`.execute(db);
  await sql`delete from goal_views where random() < 0.03`.execute(db);
}

describe('the SLA attainment rollup', () => {
  it('splits a period into whole past days and live edges', () => {
    const split = splitReportPeriod(new Date(NOW.getTime() - 9.3 * DAY), NOW, NOW);
    expect(split.rolled).toEqual({ from: new Date(Date.UTC(2026, 5, 7)), to: new Date(Date.UTC(2026, 5, 15)) });
    expect(split.live).toEqual([
      { from: new Date(NOW.getTime() - 9.3 * DAY), to: new Date(Date.UTC(2026, 5, 7)) },
      { from: new Date(Date.UTC(2026, 5, 15)), to: NOW },
    ]);
    // Nothing before today's start in whole days: all live.
    expect(splitReportPeriod(new Date(Date.UTC(2026, 5, 15, 1)), new Date(Date.UTC(2026, 5, 20)), NOW)).toEqual({
      live: [{ from: new Date(Date.UTC(2026, 5, 15, 1)), to: new Date(Date.UTC(2026, 5, 20)) }],
    });
  });

  it('answers what the aggregate over goal_views answers, before and after folding, under every kind of write', async () => {
    await sql`
      insert into cases (id, template_key, template_version, title, status, priority, owner_id, queue, version, state, opened_at, updated_at)
      select 'att-' || i, 't', 1, 'Case ' || i, 'open', 'normal', 'o', 'q', 1, '{}'::jsonb, ${NOW}, ${NOW}
      from generate_series(1, 400) i`.execute(db);
    for (let round = 0; round < 3; round++) {
      await randomWrites(round);
      const { rows: seen } = await sql<{ goals: number; deltas: number }>`select (select count(*) from goal_views)::int as goals, (select count(*) from goal_attainment_deltas)::int as deltas`.execute(db);
      // Every round writes goals whose counts change (else the comparison below would prove nothing).
      expect(seen[0]!.goals).toBeGreaterThan(100);
      expect(seen[0]!.deltas).toBeGreaterThan(0);
      await expectSameAsReference(`round ${round}, deltas not folded`);
      // Two workers fold at once: one does, the other skips; nothing is counted twice.
      const [a, b] = await Promise.all([foldGoalAttainment(db), foldGoalAttainment(db)]);
      expect(a + b).toBeGreaterThan(0);
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from goal_attainment_deltas`.execute(db);
      expect(rows[0]!.n).toBe(0);
      await expectSameAsReference(`round ${round}, folded`);
    }
    // Folded days plus fresh deltas.
    await randomWrites(9);
    await expectSameAsReference('folded days and new deltas');
  }, 120_000);
});
