/**
 * Supervisor views benchmark: seeds a database with GOALS goal rows (4 per case; most history
 * achieved, about a fifth of the cases open or on hold) and what the supervisor console reads
 * beside them (users with teams, tasks, a journal with reach escalations), then runs every query
 * the console calls (src/ui/console/: tiles, the at-risk list, due soon, workload, attainment,
 * reach alerts, the push-work task list; and next work) many times through the real query
 * functions. It prints p50/p99/max ms per query and, per SQL statement the query ran, EXPLAIN
 * (ANALYZE, BUFFERS): execution time, shared buffers and rows read — the query's own cost, which
 * scheduler noise on a loaded machine does not move — then one JSON line.
 *
 *   npm run bench:views                    (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres)
 *   BENCH_GOALS=1000000 BENCH_RUNS=100 npm run bench:views
 *   BENCH_KEEP_DB=1 ...                    seed once into tessera_bench_views_<GOALS> and keep it; later runs with
 *                                          BENCH_KEEP_DB=1 reuse it (new migrations applied). Drop it with
 *                                          BENCH_DROP_DB=1 (after the run) or `drop database tessera_bench_views_<GOALS>`.
 *   BENCH_ONLY=tiles,workload              only the queries whose name contains one of these
 */
import { Kysely, PostgresDialect, sql, type CompiledQuery } from 'kysely';
import pg from 'pg';
import { isGoalCursor, listOpenGoals, slaAttainment, type GoalFilters } from '../src/persistence/goal-queries.js';
import { decodeCursor } from '../src/persistence/case-queries.js';
import { migrateToLatest } from '../src/persistence/migrate.js';
import { foldGoalAttainment } from '../src/persistence/goal-attainment.js';
import type { Database } from '../src/persistence/schema.js';
import { readSlaTiles } from '../src/persistence/sla-tile-queries.js';
import { readSlaTiles as readLiveTiles } from '../src/persistence/feed-store.js';
import { readWorkload } from '../src/persistence/workload-queries.js';
import { readReachAlerts } from '../src/persistence/reach-alert-queries.js';
import { lockCandidates } from '../src/persistence/next-work-queries.js';
import { lockWorker } from '../src/persistence/user-directory.js';
import { listTasks } from '../src/persistence/case-queries.js';
import { createBenchDatabase, percentile, round } from './support.js';

const SERVER_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const GOALS = Number(process.env.BENCH_GOALS ?? 200_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const CASES = Math.ceil(GOALS / 4);
const KEEP = process.env.BENCH_KEEP_DB === '1';
const DROP = process.env.BENCH_DROP_DB === '1';
const ONLY = (process.env.BENCH_ONLY ?? '').split(',').filter(Boolean);
const USERS = 200;
let NOW = new Date();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The cases table only needs what goal_views references; the projection is what is measured. */
async function seed(db: Kysely<Database>) {
  await sql`select setseed(0.42)`.execute(db);
  // 8 templates, 20 queues, 200 owners. 78% resolved over the last 180 days, 2% cancelled,
  // 18% open and 2% on hold opened over the last 21 days. Priority: 10% urgent, 20% high, 60%
  // normal, 10% low.
  await sql`
    insert into cases (id, template_key, template_version, title, status, priority, owner_id, queue, version, state, opened_at, updated_at)
    select 'case-' || i, 'template-' || (i % 8), 1, 'Case ' || i, s.status,
      (array['urgent', 'high', 'high', 'normal', 'normal', 'normal', 'normal', 'normal', 'normal', 'low'])[1 + i % 10],
      'owner-' || (i % ${USERS}::int), 'queue-' || (i % 20), 1, '{}'::jsonb,
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

  // The people: every owner is a user; 1 in 20 a supervisor; two teams (queues) each; a third
  // available, a third away, a third offline; capacity 8 units of default work and 2 of calls.
  await sql`
    insert into users (id, username, display_name, role, teams, skills, capacity, presence)
    select 'owner-' || i, 'user' || i, 'Agent ' || i, case when i % 20 = 0 then 'supervisor' else 'agent' end,
      array['queue-' || (i % 20), 'queue-' || ((i + 7) % 20)], jsonb_build_object('billing', 1 + i % 3, 'social', i % 2),
      '{"default": 8, "call": 2}'::jsonb, (array['available', 'away', 'offline'])[1 + i % 3]
    from generate_series(0, ${USERS - 1}::int) i`.execute(db);

  // Two tasks per case: on open and held cases one open (offered to the case owner 60% of the
  // time, else waiting unassigned in the case's queue) and one completed; on closed cases both completed.
  // Routing columns as case-store.ts writes them: the case's priority, its earliest open
  // deadline and worst SLA state.
  await sql`
    insert into tasks (id, case_id, fragment_id, title, status, role, assignee_id, queue, due_at, opened_at, closed_at, body,
      work_queue, skills, effort, kind, priority_rank, breach_at, sla)
    select t.id, c.id, 'frag-' || k, 'Task ' || k, t.status, null, t.assignee, t.queue, c.opened_at + interval '1 day',
      c.opened_at + k * interval '1 hour', case when t.status <> 'open' then c.opened_at + (k + 2) * interval '1 hour' end,
      jsonb_build_object('id', t.id, 'fragmentId', 'frag-' || k, 'stateKey', 'work', 'title', 'Task ' || k, 'event', 'DONE',
        'status', t.status, 'openedAt', c.opened_at + k * interval '1 hour', 'dueAt', c.opened_at + interval '1 day',
        'assignment', case when t.assignee is not null then jsonb_build_object('userId', t.assignee) else jsonb_build_object('queue', c.queue) end,
        'queue', c.queue, 'effort', t.effort, 'kind', t.kind),
      c.queue, t.skills, t.effort, t.kind,
      case c.priority when 'low' then 1 when 'high' then 3 when 'urgent' then 4 else 2 end, r.breach_at, r.sla
    from cases c cross join generate_series(0, 1) k
    left join lateral (
      select min(deadline_at) filter (where status = 'open') as breach_at,
        case max(case sla when 'breached' then 3 when 'at_risk' then 2 when 'on_track' then 1 end) filter (where status = 'open')
          when 3 then 'breached' when 2 then 'at_risk' when 1 then 'on_track' end as sla
      from goal_views g where g.case_id = c.id
    ) r on c.status in ('open', 'on_hold') and k = 0
    cross join lateral (
      select c.id || '-t' || k as id,
        case when c.status in ('open', 'on_hold') and k = 0 then 'open' else 'completed' end as status,
        random() < 0.6 as held, case when random() < 0.2 then 'call' else 'default' end as kind, 1 + (random() * 2)::int as effort,
        case when random() < 0.3 then '{"billing": 2}'::jsonb else '{}'::jsonb end as skills
    ) x
    cross join lateral (
      select x.id, x.status, x.kind, x.effort, x.skills,
        case when x.status = 'open' and x.held then c.owner_id end as assignee,
        case when x.status = 'open' and not x.held then c.queue end as queue
    ) t`.execute(db);

  // A person holds no more than their capacity allows (assignment checks it): the first four
  // open tasks of each owner stay held, the rest wait in their queue.
  await sql`
    update tasks t set assignee_id = null, queue = t.work_queue,
      body = jsonb_set(t.body, '{assignment}', jsonb_build_object('queue', t.work_queue))
    from (select id, row_number() over (partition by assignee_id order by opened_at, id) as rank
          from tasks where status = 'open' and assignee_id is not null) held
    where held.id = t.id and held.rank > 4`.execute(db);

  // The journal: four entries per case, plus the reach and virality escalations of one case in
  // 50 over the last 30 days (what GET /v1/alerts/reach reads).
  await sql`
    insert into journal (case_id, version, idx, type, actor_id, actor_role, data, at)
    select c.id, k + 1, 0, (array['case.opened', 'task.opened', 'goal.achieved', 'case.resolved'])[k + 1], c.owner_id, 'agent',
      jsonb_build_object('n', k), c.opened_at + k * interval '1 hour'
    from cases c cross join generate_series(0, 3) k`.execute(db);
  await sql`
    insert into journal (case_id, version, idx, type, actor_id, actor_role, data, at)
    select c.id, 5, 0, 'case.escalated', 'escalation', 'system',
      jsonb_build_object('threshold', 'viral', 'metric', case when random() < 0.5 then 'reach' else 'virality' end,
        'limit', 10000, 'value', 10000 + (random() * 50000)::int, 'contentId', 'content-' || c.id,
        'priority', jsonb_build_object('from', 'normal', 'to', 'high'), 'actions', jsonb_build_array('raise_priority')),
      ${NOW}::timestamptz - random() * interval '30 days'
    from cases c where (substr(c.id, 6))::int % 50 = 0`.execute(db);

  // What autovacuum reaches in steady state: statistics, and the visibility map that lets the
  // covering report indexes answer without reading the table.
  // The attainment rollup's deltas (appended by the goal_views triggers) folded, as the workers do every 5 s.
  await foldGoalAttainment(db);
  for (const table of ['cases', 'goal_views', 'goal_attainment_days', 'goal_attainment_deltas', 'users', 'tasks', 'journal']) {
    await sql`vacuum analyze ${sql.table(table)}`.execute(db);
  }
  await sql`create table bench_seed (goals int not null, seeded_at timestamptz not null)`.execute(db);
  await sql`insert into bench_seed values (${GOALS}, ${NOW})`.execute(db);
}

/** A kept database (BENCH_KEEP_DB=1), created when absent; seeded says whether it holds a finished seed. */
async function keptDatabase(serverUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `tessera_bench_views_${GOALS}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const exists = await admin.query('select 1 from pg_database where datname = $1', [name]);
  let seeded = false;
  if (exists.rowCount !== 0) {
    const kept = new pg.Client({ connectionString: url.toString() });
    await kept.connect();
    seeded = (await kept.query(`select to_regclass('bench_seed') is not null as seeded`)).rows[0].seeded;
    await kept.end();
    // A seed that did not finish: start again.
    if (!seeded) await admin.query(`drop database ${name} with (force)`);
  }
  if (!seeded) await admin.query(`create database ${name}`);
  await admin.end();
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

async function seededAt(db: Kysely<Database>): Promise<Date | undefined> {
  const exists = await sql<{ t: string | null }>`select to_regclass('bench_seed')::text as t`.execute(db);
  if (!exists.rows[0]?.t) return undefined;
  const marker = await sql<{ seeded_at: Date }>`select seeded_at from bench_seed where goals = ${GOALS}`.execute(db);
  return marker.rows[0] ? new Date(marker.rows[0].seeded_at) : undefined;
}

interface Statement {
  sql: string;
  executionMs: number;
  planningMs: number;
  sharedHit: number;
  sharedRead: number;
  rowsRead: number;
  plan: string[];
}

interface Measured {
  name: string;
  p50: number;
  p99: number;
  max: number;
  rows: number;
  statements: Statement[];
}

interface PlanNode {
  'Node Type': string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Shared Hit Blocks': number;
  'Shared Read Blocks': number;
  Plans?: PlanNode[];
}

/** Rows the scans of a plan read: returned plus removed by a filter, times loops (a bitmap's index side is its heap side's). */
function rowsRead(node: PlanNode): number {
  const own = /Scan/.test(node['Node Type']) && node['Node Type'] !== 'Bitmap Index Scan'
    ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) * node['Actual Loops']
    : 0;
  return own + (node.Plans ?? []).reduce((sum, p) => sum + rowsRead(p), 0);
}

class Rollback extends Error {}

async function main() {
  const bench = KEEP ? await keptDatabase(SERVER_URL) : await createBenchDatabase(SERVER_URL);
  const pool = new pg.Pool({ connectionString: bench.url, max: 4 });
  let captured: CompiledQuery[] | undefined;
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => {
      if (event.level === 'query' && captured) captured.push(event.query);
    },
  });
  try {
    const applied = await migrateToLatest(db);
    const t0 = performance.now();
    const kept = KEEP ? await seededAt(db) : undefined;
    if (kept) {
      NOW = kept;
      console.log(`reusing ${GOALS} seeded goals (seeded ${kept.toISOString()}; ${applied.length} new migration(s))`);
      if (applied.length > 0) for (const t of ['goal_views', 'tasks', 'journal']) await sql`vacuum analyze ${sql.table(t)}`.execute(db);
    } else {
      await seed(db);
    }
    const counts = await sql<{ goals: number; active: number; at_risk: number; breached: number }>`
      select count(*)::int as goals,
        count(*) filter (where status = 'open' and case_status in ('open', 'on_hold') and deadline_at is not null)::int as active,
        count(*) filter (where status = 'open' and case_status in ('open', 'on_hold') and sla = 'at_risk')::int as at_risk,
        count(*) filter (where status = 'open' and case_status in ('open', 'on_hold') and sla = 'breached')::int as breached
      from goal_views`.execute(db);
    const seeded = counts.rows[0]!;
    const companions = await sql<{ tasks: number; open_tasks: number; journal: number; escalations: number; users: number }>`
      select (select count(*) from tasks)::int as tasks, (select count(*) from tasks where status = 'open')::int as open_tasks,
        (select count(*) from journal)::int as journal, (select count(*) from journal where type = 'case.escalated')::int as escalations,
        (select count(*) from users)::int as users`.execute(db);
    const c = companions.rows[0]!;
    console.log(
      `${kept ? 'seeded' : 'seeded'} ${seeded.goals} goals (${seeded.active} open on active cases: ${seeded.at_risk} at risk, ${seeded.breached} breached), ` +
        `${c.tasks} tasks (${c.open_tasks} open), ${c.journal} journal rows (${c.escalations} escalations), ${c.users} users` +
        `${kept ? '' : ` in ${round((performance.now() - t0) / 1000)} s`}`,
    );

    // Next work is asked by someone with room (route-work.ts answers a person at capacity without
    // a query): an available agent holding nothing, in two teams.
    await sql`
      insert into users (id, username, display_name, role, teams, skills, capacity, presence)
      values ('fresh-agent', 'fresh', 'Fresh Agent', 'agent', array['queue-7', 'queue-14'], '{"billing": 2}'::jsonb,
        '{"default": 8, "call": 2}'::jsonb, 'available')
      on conflict (id) do nothing`.execute(db);

    // A cursor deep in the unfiltered list (after 10,000 goals), as a supervisor paging far would hold.
    const deep = await sql<{ deadline_at: Date; case_id: string; goal_key: string }>`
      select deadline_at, case_id, goal_key from goal_views
      where status = 'open' and case_status in ('open', 'on_hold') and deadline_at is not null
      order by deadline_at, case_id, goal_key offset 10000 limit 1`.execute(db);
    const d = deep.rows[0];
    const deepCursor = d ? { d: new Date(d.deadline_at).toISOString(), c: d.case_id, g: d.goal_key } : undefined;
    if (deepCursor && decodeCursor(Buffer.from(JSON.stringify(deepCursor)).toString('base64url'), isGoalCursor) === 'invalid') throw new Error('cursor shape');

    const list = (filters: GoalFilters, limit = 25) => () => listOpenGoals(db, filters, undefined, limit);
    const due = (hours: number, filters: GoalFilters = {}) => () =>
      listOpenGoals(db, { ...filters, deadlineFrom: NOW, deadlineTo: new Date(NOW.getTime() + hours * HOUR) }, undefined, 25);
    // As the console asks: from N days ago to a minute from now.
    const report = (days: number, groupBy: 'template' | 'queue', filters: { template?: string; queue?: string } = {}) => () =>
      slaAttainment(db, { from: new Date(NOW.getTime() - days * DAY), to: new Date(NOW.getTime() + 60_000), now: NOW, groupBy, ...filters });
    const alerts = (queue?: string) => () => readReachAlerts(db, { since: new Date(NOW.getTime() - 24 * HOUR), limit: 25, ...(queue ? { queue } : {}) });
    // POST /v1/tasks/next's reads: the person under lock, then the best task of each team, locked; rolled back.
    const nextWork = (userId: string) => async () => {
      let found: unknown[] = [];
      await db
        .transaction()
        .execute(async (trx) => {
          const worker = await lockWorker(trx, userId);
          found = worker ? await lockCandidates(trx, worker, []) : [];
          throw new Rollback();
        })
        .catch((err: unknown) => {
          if (!(err instanceof Rollback)) throw err;
        });
      return { items: found };
    };

    const queries: [string, () => Promise<unknown>][] = [
      // The console's first screen (src/ui/console/console.tsx), all queues, then one queue.
      ['tiles (goals/summary)', () => readSlaTiles(db, {})],
      ['tiles queue', () => readSlaTiles(db, { queue: 'queue-7' })],
      ['tiles template', () => readSlaTiles(db, { template: 'template-3' })],
      ['live tiles (stream)', () => readLiveTiles(db)],
      ['at-risk list (50)', list({ sla: ['at_risk', 'breached'] }, 50)],
      ['at-risk list queue (50)', list({ sla: ['at_risk', 'breached'], queue: 'queue-7' }, 50)],
      ['due 24h', due(24)],
      ['due 24h queue', due(24, { queue: 'queue-3' })],
      ['workload', () => readWorkload(db)],
      ['attainment 30d by template', report(30, 'template')],
      ['attainment 30d queue', report(30, 'template', { queue: 'queue-7' })],
      ['attainment 90d by queue', report(90, 'queue')],
      ['attainment 366d by template', report(366, 'template')],
      ['reach alerts 24h', alerts()],
      ['reach alerts 24h queue', alerts('queue-7')],
      // Push work: the unheld open tasks of an agent's team.
      ['push-work tasks queue (50)', () => listTasks(db, { queue: 'queue-7', status: 'open' }, undefined, 50)],
      ['next work (locks, rolled back)', nextWork('fresh-agent')],
      // The rest of GET /v1/goals and /v1/goals/due.
      ['goals', list({})],
      ['goals sla=breached', list({ sla: ['breached'] })],
      ['goals queue', list({ queue: 'queue-7' })],
      ['goals owner', list({ ownerId: 'owner-42' })],
      ['goals template+sla', list({ template: 'template-3', sla: ['breached'] })],
      ['goals page after 10,000', () => listOpenGoals(db, {}, deepCursor, 25)],
      ['due 720h sla=at_risk', due(720, { sla: ['at_risk'] })],
    ];
    const selected = queries.filter(([name]) => ONLY.length === 0 || ONLY.some((o) => name.includes(o)));

    const results: Measured[] = [];
    for (const [name, run] of selected) {
      for (let i = 0; i < 5; i++) await run(); // warm the cache and the plan
      const latencies: number[] = [];
      let rows = 0;
      for (let i = 0; i < RUNS; i++) {
        const s = performance.now();
        const out = (await run()) as { items?: unknown[]; groups?: unknown[]; agents?: unknown[]; queues?: unknown[]; byQueue?: object } | unknown[];
        latencies.push(performance.now() - s);
        rows = Array.isArray(out)
          ? out.length
          : (out.items ?? out.groups ?? (out.agents && out.queues ? [...out.agents, ...out.queues] : undefined) ?? Object.keys(out.byQueue ?? {})).length;
      }
      latencies.sort((a, b) => a - b);
      captured = [];
      await run();
      const statements = captured.filter((q) => !/^\s*(begin|commit|rollback)/i.test(q.sql));
      captured = undefined;
      const explained: Statement[] = [];
      for (const compiled of statements) explained.push(await explain(pool, compiled));
      const m: Measured = { name, p50: round(percentile(latencies, 50), 2), p99: round(percentile(latencies, 99), 2), max: round(latencies[latencies.length - 1]!, 2), rows, statements: explained };
      results.push(m);
      const own = explained.map((e) => `${round(e.executionMs, 2)} ms ${e.sharedHit + e.sharedRead} buf ${e.rowsRead} rows`).join(' + ');
      console.log(`${name.padEnd(32)} p50 ${String(m.p50).padStart(6)}  p99 ${String(m.p99).padStart(6)}  max ${String(m.max).padStart(6)} ms  (${rows} out)  explain: ${own}`);
    }
    const load = (await import('node:os')).loadavg().map((l) => round(l, 2));
    console.log(`load average ${load.join(' ')}`);

    console.log('\nplans (EXPLAIN (ANALYZE, BUFFERS), costs off; median execution of 5):');
    for (const r of results) {
      console.log(`\n-- ${r.name}`);
      for (const st of r.statements) {
        console.log(`   [execution ${round(st.executionMs, 3)} ms, planning ${round(st.planningMs, 3)} ms, shared hit ${st.sharedHit} read ${st.sharedRead}, rows read ${st.rowsRead}]`);
        for (const line of st.plan) console.log(`   ${line}`);
      }
    }
    console.log(
      JSON.stringify({
        goals: seeded.goals,
        active: seeded.active,
        tasks: c.tasks,
        open_tasks: c.open_tasks,
        journal: c.journal,
        runs: RUNS,
        load,
        queries: Object.fromEntries(
          results.map((r) => [
            r.name,
            {
              p50_ms: r.p50,
              p99_ms: r.p99,
              max_ms: r.max,
              rows: r.rows,
              execution_ms: round(r.statements.reduce((s, st) => s + st.executionMs, 0), 3),
              buffers: r.statements.reduce((s, st) => s + st.sharedHit + st.sharedRead, 0),
              rows_read: r.statements.reduce((s, st) => s + st.rowsRead, 0),
              index: r.statements.flatMap((st) => st.plan.map((l) => /(?:using|Index Scan on|Index Only Scan on) (\w+)/i.exec(l)?.[1]).filter(Boolean)),
            },
          ]),
        ),
      }),
    );
  } finally {
    await db.destroy().catch(() => undefined);
    if (!KEEP || DROP) await bench.drop();
  }
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of one statement, five times in a transaction that is rolled back
 * (next work's statements lock rows); the median execution time, the last run's buffers and rows.
 */
async function explain(pool: pg.Pool, compiled: CompiledQuery): Promise<Statement> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const runs: { execution: number; planning: number; top: PlanNode }[] = [];
    for (let i = 0; i < 5; i++) {
      const out = await client.query(`explain (analyze, buffers, format json) ${compiled.sql}`, [...compiled.parameters]);
      const doc = (out.rows[0] as { 'QUERY PLAN': [{ Plan: PlanNode; 'Execution Time': number; 'Planning Time': number }] })['QUERY PLAN'][0];
      runs.push({ execution: doc['Execution Time'], planning: doc['Planning Time'], top: doc.Plan });
    }
    const text = await client.query(`explain (analyze, costs off, timing off, summary off) ${compiled.sql}`, [...compiled.parameters]);
    await client.query('rollback');
    const sorted = [...runs].sort((a, b) => a.execution - b.execution);
    const last = runs[runs.length - 1]!;
    return {
      sql: compiled.sql,
      executionMs: sorted[2]!.execution,
      planningMs: sorted[2]!.planning,
      sharedHit: last.top['Shared Hit Blocks'],
      sharedRead: last.top['Shared Read Blocks'],
      rowsRead: rowsRead(last.top),
      plan: text.rows.map((r: Record<string, string>) => r['QUERY PLAN']!),
    };
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
