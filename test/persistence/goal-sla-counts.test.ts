/**
 * The supervisor console's rewritten reads answer what the straightforward queries over
 * goal_views answered, over random goal rows written by every kind of statement (inserts,
 * upserts, updates of SLA state, status, case status, queue, template and deadline; deletes):
 * - the SLA tiles (GET /v1/goals/summary and the live stream's `tiles`) from the count rollup of
 *   migration 0071 and the unbreached-deadline index, before the deltas are folded, after, and
 *   with both mixed;
 * - the goal list with several SLA states (one index branch per state, merged), page by page.
 */
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldGoalAttainment } from '../../src/persistence/goal-attainment.js';
import { isGoalCursor, listOpenGoals, type GoalFilters } from '../../src/persistence/goal-queries.js';
import { decodeCursor } from '../../src/persistence/case-queries.js';
import { readSlaTiles } from '../../src/persistence/sla-tile-queries.js';
import { readSlaTiles as readLiveTiles } from '../../src/persistence/feed-store.js';
import type { Database } from '../../src/persistence/schema.js';
import { openDatabase, type DatabaseHandle } from '../../src/platform/database.js';
import { createPrivateDatabase } from '../jobs/timer-stack.js';

const NOW = new Date(Date.UTC(2026, 5, 15, 13, 27, 11));
const ACTIVE = sql`status = 'open' and case_status in ('open', 'on_hold') and deadline_at is not null`;

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

/** The tiles as they were computed before the rollup: one aggregate over goal_views. */
async function referenceTiles(filters: { template?: string; queue?: string }) {
  const { rows } = await sql<{ queue: string; on_track: number; at_risk: number; breached: number; next_breach: Date | null }>`
    select coalesce(queue, '') as queue,
      count(*) filter (where coalesce(sla, 'on_track') = 'on_track')::int as on_track,
      count(*) filter (where sla = 'at_risk')::int as at_risk,
      count(*) filter (where sla = 'breached')::int as breached,
      min(deadline_at) filter (where coalesce(sla, 'on_track') <> 'breached') as next_breach
    from goal_views
    where ${ACTIVE}
      ${filters.template ? sql`and template_key = ${filters.template}` : sql``}
      ${filters.queue ? sql`and queue = ${filters.queue}` : sql``}
    group by 1 order by 1`.execute(db);
  const byQueue = Object.fromEntries(rows.map((r) => [r.queue, { onTrack: r.on_track, atRisk: r.at_risk, breached: r.breached }]));
  const next = rows.map((r) => r.next_breach).filter((d): d is Date => d !== null).map((d) => new Date(d).getTime());
  return {
    onTrack: rows.reduce((s, r) => s + r.on_track, 0),
    atRisk: rows.reduce((s, r) => s + r.at_risk, 0),
    breached: rows.reduce((s, r) => s + r.breached, 0),
    byQueue,
    nextBreachAt: next.length ? new Date(Math.min(...next)).toISOString() : null,
  };
}

async function referenceLiveTiles() {
  const { rows } = await sql<{ queue: string | null; sla: string | null; n: number }>`
    select queue, sla, count(*)::int as n from goal_views where ${ACTIVE} group by queue, sla`.execute(db);
  const total = { on_track: 0, at_risk: 0, breached: 0 };
  const byQueue: Record<string, typeof total> = {};
  for (const r of rows) {
    const key = r.sla === 'at_risk' || r.sla === 'breached' ? r.sla : 'on_track';
    total[key] += r.n;
    (byQueue[r.queue ?? ''] ??= { on_track: 0, at_risk: 0, breached: 0 })[key] += r.n;
  }
  return { total, byQueue };
}

const tileFilters = [{}, { queue: 'q-1' }, { template: 't-2' }, { template: 't-0', queue: 'q-2' }, { queue: 'q-none' }];

async function expectTilesAsReference(stage: string) {
  for (const filters of tileFilters) {
    expect({ stage, filters, tiles: await readSlaTiles(db, filters) }).toEqual({ stage, filters, tiles: await referenceTiles(filters) });
  }
  expect({ stage, live: await readLiveTiles(db) }).toEqual({ stage, live: await referenceLiveTiles() });
}

async function randomWrites(round: number) {
  await sql`select setseed(${0.2 + round / 20})`.execute(db);
  await sql`
    insert into goal_views (case_id, goal_key, goal_title, case_title, template_key, template_version, queue, owner_id, priority,
      case_status, status, sla, required, ad_hoc, deadline_at, at_risk_at, breached_at, achieved_at, achieved_late, opened_at, updated_at)
    select c.id, 'g' || (random() * 3)::int, 'Goal', c.title, 't-' || (random() * 3)::int, 1,
      case when random() < 0.1 then null else 'q-' || (random() * 3)::int end, 'o-' || (random() * 2)::int, 'normal',
      (array['open', 'open', 'on_hold', 'resolved', 'cancelled'])[1 + (random() * 4.4)::int], x.status,
      (array[null, 'on_track', 'at_risk', 'breached'])[1 + (random() * 3)::int], true, false,
      x.deadline, null, null, null, false, c.opened_at, c.opened_at
    from cases c
    cross join lateral (
      select (array['open', 'open', 'achieved', 'cancelled'])[1 + (random() * 3.2)::int] as status,
        -- Whole minutes, so equal deadlines occur and the keyset's tie-breakers are exercised.
        case when random() < 0.05 then null else date_trunc('hour', ${NOW}::timestamptz) + ((random() * 40)::int - 20) * interval '1 hour' end as deadline
      where c.id is not null -- correlated, so it is drawn per case
    ) x
    where random() < 0.6
    on conflict (case_id, goal_key) do update set status = excluded.status, sla = excluded.sla, deadline_at = excluded.deadline_at,
      case_status = excluded.case_status, queue = excluded.queue, template_key = excluded.template_key`.execute(db);
  await sql`update goal_views set sla = (array['at_risk', 'breached'])[1 + (random())::int] where status = 'open' and random() < 0.3`.execute(db);
  await sql`update goal_views set status = 'achieved' where status = 'open' and random() < 0.1`.execute(db);
  await sql`update goal_views set case_status = (array['on_hold', 'resolved', 'open'])[1 + (random() * 2)::int] where random() < 0.1`.execute(db);
  await sql`update goal_views set queue = 'q-' || (random() * 3)::int, template_key = 't-' || (random() * 3)::int where random() < 0.1`.execute(db);
  await sql`update goal_views set deadline_at = null where random() < 0.02`.execute(db);
  await sql`update goal_views set case_title = case_title || '.' where random() < 0.2`.execute(db);
  await sql`delete from goal_views where random() < 0.03`.execute(db);
}

/** The list as one `sla in (...)` query: every page of it, in order. */
async function referenceList(filters: GoalFilters): Promise<string[]> {
  const { rows } = await sql<{ case_id: string; goal_key: string }>`
    select case_id, goal_key from goal_views
    where ${ACTIVE} and sla in (${sql.join(filters.sla!)})
      ${filters.queue ? sql`and queue = ${filters.queue}` : sql``}
      ${filters.ownerId ? sql`and owner_id = ${filters.ownerId}` : sql``}
      ${filters.deadlineFrom ? sql`and deadline_at >= ${filters.deadlineFrom}` : sql``}
    order by deadline_at, case_id, goal_key`.execute(db);
  return rows.map((r) => `${r.case_id}/${r.goal_key}`);
}

async function pagedList(filters: GoalFilters, limit: number): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | null | undefined;
  for (;;) {
    const decoded = cursor ? decodeCursor(cursor, isGoalCursor) : undefined;
    if (decoded === 'invalid') throw new Error('cursor');
    const page = await listOpenGoals(db, filters, decoded, limit);
    out.push(...page.items.map((g) => `${g.caseId}/${g.goalKey}`));
    for (const g of page.items) expect(filters.sla).toContain(g.sla);
    if (!page.nextCursor) return out;
    cursor = page.nextCursor;
  }
}

describe('the SLA tile rollup and the merged SLA list', () => {
  it('tiles answer what the count over goal_views answers, before and after folding, under every kind of write', async () => {
    await sql`
      insert into cases (id, template_key, template_version, title, status, priority, owner_id, queue, version, state, opened_at, updated_at)
      select 'sla-' || i, 't', 1, 'Case ' || i, 'open', 'normal', 'o', 'q', 1, '{}'::jsonb, ${NOW}, ${NOW}
      from generate_series(1, 2000) i`.execute(db);
    for (let round = 0; round < 3; round++) {
      await randomWrites(round);
      const { rows: seen } = await sql<{ active: number; deltas: number }>`
        select (select count(*) from goal_views where ${ACTIVE})::int as active, (select count(*) from goal_sla_count_deltas)::int as deltas`.execute(db);
      // Every round leaves active goals and unfolded deltas (else the comparison would prove nothing).
      expect(seen[0]!.active).toBeGreaterThan(50);
      expect(seen[0]!.deltas).toBeGreaterThan(0);
      await expectTilesAsReference(`round ${round}, deltas not folded`);
      const [a, b] = await Promise.all([foldGoalAttainment(db), foldGoalAttainment(db)]);
      expect(a + b).toBeGreaterThan(0);
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from goal_sla_count_deltas`.execute(db);
      expect(rows[0]!.n).toBe(0);
      await expectTilesAsReference(`round ${round}, folded`);
    }
    await randomWrites(9);
    await expectTilesAsReference('folded counts and new deltas');
    // A queue whose active goals are all breached has no next breach (and the counts say so).
    await sql`update goal_views set sla = 'breached' where queue = 'q-1'`.execute(db);
    const tiles = await readSlaTiles(db, { queue: 'q-1' });
    expect(tiles.onTrack + tiles.atRisk).toBe(0);
    expect(tiles.breached).toBeGreaterThan(0);
    expect(tiles.nextBreachAt).toBeNull();
    await expectTilesAsReference('one queue all breached');
  }, 120_000);

  it('lists several SLA states page by page exactly as one sla-in query orders them', async () => {
    const cases: [GoalFilters, number][] = [
      [{ sla: ['at_risk', 'breached'] }, 7],
      [{ sla: ['breached', 'at_risk', 'breached'] }, 50],
      [{ sla: ['on_track', 'at_risk', 'breached'], queue: 'q-2' }, 5],
      [{ sla: ['at_risk', 'on_track'], ownerId: 'o-1', deadlineFrom: NOW }, 3],
    ];
    for (const [filters, limit] of cases) {
      const want = await referenceList({ ...filters, sla: [...new Set(filters.sla)] });
      expect(want.length).toBeGreaterThan(limit);
      expect({ filters, got: await pagedList(filters, limit) }).toEqual({ filters, got: want });
    }
  }, 60_000);
});
