/**
 * Supervisor views benchmark: seeds a throwaway database with GOALS goal rows (4 per case; most
 * history achieved, about a fifth of the cases open or on hold), then runs each view query many
 * times through the real query functions and prints p50/p99 ms per query, the EXPLAIN of each
 * (to show the index it uses), and a last line with one JSON object.
 *
 *   npm run bench:views                    (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres)
 *   BENCH_GOALS=1000000 BENCH_RUNS=300 npm run bench:views
 */
import { Kysely, PostgresDialect, sql, type CompiledQuery } from 'kysely';
import pg from 'pg';
import { isGoalCursor, listOpenGoals, slaAttainment, type GoalFilters } from '../src/persistence/goal-queries.js';
import { decodeCursor } from '../src/persistence/case-queries.js';
import { migrateToLatest } from '../src/persistence/migrate.js';
import { foldGoalAttainment } from '../src/persistence/goal-attainment.js';
import type { Database } from '../src/persistence/schema.js';
import { createBenchDatabase, percentile, round } from './support.js';

const SERVER_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const GOALS = Number(process.env.BENCH_GOALS ?? 200_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const CASES = Math.ceil(GOALS / 4);
const NOW = new Date();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The cases table only needs what goal_views references; the projection is what is measured. */
async function seed(db: Kysely<Database>) {
  await sql`select setseed(0.42)`.execute(db);
  // 8 templates, 20 queues, 200 owners. 78% resolved over the last 180 days, 2% cancelled,
  // 18% open and 2% on hold opened over the last 21 days.
  await sql`
    insert into cases (id, template_key, template_version, title, status, priority, owner_id, queue, version, state, opened_at, updated_at)
    select 'case-' || i, 'template-' || (i % 8), 1, 'Case ' || i, s.status, 'normal', 'owner-' || (i % 200), 'queue-' || (i % 20), 1, '{}'::jsonb,
      s.opened_at, s.opened_at
    from (
      select i, r,
        case when r < 0.78 then 'resolved' when r < 0.80 then 'cancelled' when r < 0.98 then 'open' else 'on_hold' end as status,
        ${NOW}::timestamptz - (case when r < 0.80 then random() * 180 else random() * 21 end) * interval '1 day' as opened_at
      from (select i, random() as r from generate_series(1, ${CASES}::int) i) raw
    ) s`.execute(db);
  await sql`
    insert into goal_views (case_id, goal_key, goal_title, case_title, template_key, template_version, queue, owner_id, priority,
      case_status, status, sla, required, ad_hoc, deadline_at, at_risk_at, breached_at, achieved_at, achieved_late, opened_at, updated_at)
    select c.id, 'goal_' || g, 'Goal ' || g, c.title, c.template_key, 1, c.queue, c.owner_id, c.priority, c.status,
      x.status,
      case when x.status = 'achieved' then (case when x.late then 'breached' else 'on_track' end)
           when x.deadline < ${NOW} then 'breached' when x.deadline < ${NOW}::timestamptz + interval '8 hours' then 'at_risk' else 'on_track' end,
      g < 3, false, x.deadline,
      case when x.status = 'open' and x.deadline < ${NOW}::timestamptz + interval '8 hours' then x.deadline - interval '8 hours' end,
      case when x.status = 'open' and x.deadline < ${NOW} then x.deadline end,
      case when x.status = 'achieved' then x.deadline + (case when x.late then 1 else -1 end) * x.r2 * interval '6 hours' end,
      x.status = 'achieved' and x.late, c.opened_at, c.opened_at
    from cases c cross join generate_series(0, 3) g
    cross join lateral (
      select c.opened_at + (array[interval '4 hours', interval '2 days', interval '3 days', interval '14 days'])[g + 1] as deadline,
        case when c.status = 'resolved' or (c.status in ('open', 'on_hold') and random() < 0.3) then 'achieved' else 'open' end as status,
        random() < 0.15 as late, random() as r2
    ) x
    limit ${GOALS}::int`.execute(db);
  // What autovacuum reaches in steady state: statistics, and the visibility map that lets the
  // covering report indexes answer without reading the table.
  // The attainment rollup's deltas (appended by the goal_views triggers) folded, as the workers do every 5 s.
  await foldGoalAttainment(db);
  await sql`vacuum analyze cases`.execute(db);
  await sql`vacuum analyze goal_views`.execute(db);
  await sql`vacuum analyze goal_attainment_days`.execute(db);
  await sql`vacuum analyze goal_attainment_deltas`.execute(db);
}

interface Measured {
  name: string;
  p50: number;
  p99: number;
  rows: number;
  plan: string[];
}

async function main() {
  const bench = await createBenchDatabase(SERVER_URL);
  const pool = new pg.Pool({ connectionString: bench.url, max: 4 });
  let last: CompiledQuery | undefined;
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => {
      if (event.level === 'query') last = event.query;
    },
  });
  try {
    await migrateToLatest(db);
    const t0 = performance.now();
    await seed(db);
    const counts = await sql<{ goals: number; active: number; at_risk: number; breached: number }>`
      select count(*)::int as goals,
        count(*) filter (where status = 'open' and case_status in ('open', 'on_hold') and deadline_at is not null)::int as active,
        count(*) filter (where status = 'open' and case_status in ('open', 'on_hold') and sla = 'at_risk')::int as at_risk,
        count(*) filter (where status = 'open' and case_status in ('open', 'on_hold') and sla = 'breached')::int as breached
      from goal_views`.execute(db);
    const seeded = counts.rows[0]!;
    console.log(`seeded ${seeded.goals} goals (${seeded.active} open on active cases: ${seeded.at_risk} at risk, ${seeded.breached} breached) in ${round((performance.now() - t0) / 1000)} s`);

    // A cursor deep in the unfiltered list (after 10,000 goals), as a supervisor paging far would hold.
    const deep = await sql<{ deadline_at: Date; case_id: string; goal_key: string }>`
      select deadline_at, case_id, goal_key from goal_views
      where status = 'open' and case_status in ('open', 'on_hold') and deadline_at is not null
      order by deadline_at, case_id, goal_key offset 10000 limit 1`.execute(db);
    const d = deep.rows[0];
    const deepCursor = d ? { d: new Date(d.deadline_at).toISOString(), c: d.case_id, g: d.goal_key } : undefined;
    if (deepCursor && decodeCursor(Buffer.from(JSON.stringify(deepCursor)).toString('base64url'), isGoalCursor) === 'invalid') throw new Error('cursor shape');

    const list = (filters: GoalFilters) => () => listOpenGoals(db, filters, undefined, 25);
    const due = (hours: number, filters: GoalFilters = {}) => () =>
      listOpenGoals(db, { ...filters, deadlineFrom: NOW, deadlineTo: new Date(NOW.getTime() + hours * HOUR) }, undefined, 25);
    const report = (days: number, groupBy: 'template' | 'queue', filters: { template?: string; queue?: string } = {}) => () =>
      slaAttainment(db, { from: new Date(NOW.getTime() - days * DAY), to: NOW, now: NOW, groupBy, ...filters });

    const queries: [string, () => Promise<unknown>][] = [
      ['goals', list({})],
      ['goals sla=breached', list({ sla: ['breached'] })],
      ['goals sla=at_risk,breached', list({ sla: ['at_risk', 'breached'] })],
      ['goals queue', list({ queue: 'queue-7' })],
      ['goals owner', list({ ownerId: 'owner-42' })],
      ['goals template+sla', list({ template: 'template-3', sla: ['breached'] })],
      ['goals page after 10,000', () => listOpenGoals(db, {}, deepCursor, 25)],
      ['due 24h', due(24)],
      ['due 24h queue', due(24, { queue: 'queue-3' })],
      ['due 720h sla=at_risk', due(720, { sla: ['at_risk'] })],
      ['attainment 30d by template', report(30, 'template')],
      ['attainment 90d by queue', report(90, 'queue')],
      ['attainment 366d by template', report(366, 'template')],
      ['attainment 90d one queue', report(90, 'template', { queue: 'queue-5' })],
    ];

    const results: Measured[] = [];
    for (const [name, run] of queries) {
      for (let i = 0; i < 5; i++) await run(); // warm the cache and the plan
      const latencies: number[] = [];
      let rows = 0;
      for (let i = 0; i < RUNS; i++) {
        const s = performance.now();
        const out = (await run()) as { items?: unknown[]; groups?: unknown[] };
        latencies.push(performance.now() - s);
        rows = (out.items ?? out.groups ?? []).length;
      }
      latencies.sort((a, b) => a - b);
      const compiled = last!;
      const explain = await pool.query(`explain (analyze, costs off, timing off, summary off) ${compiled.sql}`, [...compiled.parameters]);
      const plan = explain.rows.map((r: Record<string, string>) => r['QUERY PLAN']!);
      results.push({ name, p50: round(percentile(latencies, 50), 2), p99: round(percentile(latencies, 99), 2), rows, plan });
      console.log(`${name.padEnd(30)} p50 ${round(percentile(latencies, 50), 2)} ms  p99 ${round(percentile(latencies, 99), 2)} ms  (${rows} rows)`);
    }

    console.log('\nplans (EXPLAIN ANALYZE, costs and timing off):');
    for (const r of results) {
      console.log(`\n-- ${r.name}`);
      for (const line of r.plan) console.log(`   ${line}`);
    }
    console.log(
      JSON.stringify({
        goals: seeded.goals,
        active: seeded.active,
        runs: RUNS,
        queries: Object.fromEntries(results.map((r) => [r.name, { p50_ms: r.p50, p99_ms: r.p99, rows: r.rows, index: r.plan.map((l) => /(?:using|Index Scan on) (\w+)/i.exec(l)?.[1]).filter(Boolean) }])),
      }),
    );
  } finally {
    await db.destroy();
    await bench.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
