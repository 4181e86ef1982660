/**
 * The learning loop over a synthetic history, on a throwaway database:
 *
 * 1. History: HISTORY resolved cases of one template (bench-care), most inserted by SQL batches
 *    in the real schema (cases + journal + customers), RUNNER_CASES of them written through the
 *    command runner (so conformance and plan-as-of have recorded commands to replay). Planted
 *    pattern: in situation S = (channel, segment), fragment good(S) is added now and then, and a
 *    case that added it meets its goal on time far more often (0.80 vs 0.35).
 * 2. Recommendations: HELD_OUT cases generated the same way but kept out of the history; for
 *    each whose goal was met on time, a hit is one of its added fragments in the top 3 that the
 *    recommender ranks from its opening situation. Baseline: the 3 fragments added most often.
 * 3. The conformance report's time over the whole history (helper "history"'s conformanceReport)
 *    and plan-as-of time for a case with ~1,000 journal entries (reconstructPlan).
 * Last line: one JSON object.
 *
 *   npm run bench:learning   (BENCH_POSTGRES_URL, BENCH_HISTORY=20000, BENCH_RUNNER_CASES=500, BENCH_HELD_OUT=500)
 */
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import type { CaseState } from '../src/cases/types.js';
import { createRecommender } from '../src/commands/recommend-fragments.js';
import { assembleCore } from '../src/core.js';
import { conformanceReport } from '../src/history/conformance-report.js';
import { reconstructPlan } from '../src/history/reconstruct-plan.js';
import { migrateToLatest } from '../src/persistence/migrate.js';
import type { Database } from '../src/persistence/schema.js';
import { createInProcessJobQueue } from '../src/platform/in-process-job-queue.js';
import type { DatabaseHandle } from '../src/platform/database.js';
import { createBenchDatabase, percentile, round } from './support.js';

const SERVER_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const HISTORY = Number(process.env.BENCH_HISTORY ?? 20_000);
const RUNNER_CASES = Number(process.env.BENCH_RUNNER_CASES ?? 500);
const HELD_OUT = Number(process.env.BENCH_HELD_OUT ?? 500);
const PLAN_ENTRIES = Number(process.env.BENCH_PLAN_ENTRIES ?? 1_000);

const TEMPLATE = 'bench-care';
const STEPS = ['verify-account', 'refund-check', 'supplier-call', 'goodwill-offer', 'public-reply', 'manager-review', 'callback', 'survey'];
const CHANNELS = ['twitter', 'facebook', 'email', 'phone'];
const SEGMENTS = ['consumer', 'smb', 'enterprise'];
const TIERS = ['gold', 'silver', 'bronze'];
/** Agents' habits: some steps are popular whatever the situation. */
const POPULARITY = [8, 7, 6, 5, 4, 3, 2, 1];

/** Deterministic PRNG (mulberry32), so runs are comparable. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(13);
const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
function weighted(weights: readonly number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let r = random() * total;
  for (let i = 0; i < weights.length; i++) if ((r -= weights[i]!) < 0) return i;
  return weights.length - 1;
}

interface Synthetic {
  channel: string;
  segment: string;
  tier: string;
  sentiment: number;
  clv: number;
  added: string[];
  onTime: boolean;
}

/** The planted pattern: each (channel, segment) has its own good step. */
const goodStep = (channel: string, segment: string) => STEPS[(CHANNELS.indexOf(channel) * 3 + SEGMENTS.indexOf(segment) * 5 + 1) % STEPS.length]!;

function synthesize(): Synthetic {
  const channel = pick(CHANNELS);
  const segment = pick(SEGMENTS);
  const good = goodStep(channel, segment);
  const added = new Set<string>();
  const n = random() < 0.6 ? 1 : 2;
  for (let i = 0; i < n; i++) added.add(random() < 0.3 ? good : STEPS[weighted(POPULARITY)]!);
  const pOnTime = added.has(good) ? 0.8 : 0.35;
  return {
    channel,
    segment,
    tier: pick(TIERS),
    sentiment: random() * 2 - 1,
    clv: random(),
    added: [...added],
    onTime: random() < pOnTime,
  };
}

async function writeCatalog(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-bench-learning-'));
  await mkdir(path.join(dir, 'fragments'));
  await writeFile(
    path.join(dir, `${TEMPLATE}.yaml`),
    `key: ${TEMPLATE}
version: 1
title: Customer care (bench)
caseFileSchema:
  type: object
  properties:
    tier: { type: string, enum: [${TIERS.join(', ')}] }
goals:
  - { key: done, title: Resolved within a day, condition: "'done' in milestones", required: true, deadline: P1D }
milestones:
  - { key: done, title: Done }
defaultFragments: [finish@1]
discretionaryFragments: [${STEPS.map((s) => `${s}@1`).join(', ')}]
roles: [agent, supervisor]
resolution: auto
`,
  );
  const fragment = (key: string, event: string, milestone?: string) => `key: ${key}
version: 1
title: ${key}
machine:
  id: ${key}
  initial: working
  states:
    working:
      on:
        ${event}: { target: done${milestone ? `, actions: [{ type: setMilestone, params: { key: ${milestone} } }]` : ''} }
    done: { type: final }
`;
  await writeFile(path.join(dir, 'fragments', 'finish.yaml'), fragment('finish', 'FINISH', 'done'));
  for (const s of STEPS) await writeFile(path.join(dir, 'fragments', `${s}.yaml`), fragment(s, 'DONE'));
  return dir;
}

/** A resolved (or, with `open`, a just-opened) case as the engine would have left it. */
function caseState(id: string, s: Synthetic, openedAt: Date, open = false): CaseState {
  const at = openedAt.toISOString();
  const resolvedAt = new Date(openedAt.getTime() + (s.onTime ? 3 : 30) * 3_600_000).toISOString();
  const deadline = new Date(openedAt.getTime() + 86_400_000).toISOString();
  const fragments = [{ id: `${id}-f0`, definition: 'finish@1', title: 'finish', status: open ? 'active' : 'done', snapshot: null, startedAt: at }, ...(open ? [] : s.added.map((k, i) => ({ id: `${id}-f${i + 1}`, definition: `${k}@1`, title: k, status: 'done', snapshot: null, startedAt: at })))];
  return {
    id,
    template: { key: TEMPLATE, version: 1 },
    title: 'bench',
    status: open ? 'open' : 'resolved',
    priority: 'normal',
    customer: { id: `cu-${id}`, channel: s.channel, handle: `@${id}` },
    externalRefs: {},
    caseFile: { tier: s.tier },
    milestones: open ? {} : { done: resolvedAt },
    goals: [
      {
        key: 'done',
        title: 'Resolved within a day',
        condition: "'done' in milestones",
        required: true,
        status: open ? 'open' : 'achieved',
        deadlineAt: deadline,
        ...(open ? {} : { achievedAt: resolvedAt, achievedLate: !s.onTime, ...(s.onTime ? {} : { deadlineReachedAt: deadline, sla: 'breached' as const }) }),
      },
    ],
    fragments: fragments as CaseState['fragments'],
    tasks: [],
    version: open ? 1 : 2 + s.added.length,
    openedAt: at,
    updatedAt: open ? at : resolvedAt,
    ...(open ? {} : { resolvedAt }),
    posts: [{ contentId: `${id}-p`, identity: `${s.channel}|id:${id}`, channel: s.channel, sentiment: { score: s.sentiment, source: 'provided' as const }, revision: 1, firstSeenAt: at, updatedAt: at, samples: [] }],
    priorityInfo: { score: 50, computed: 'normal', floor: 'normal', factors: [], computedAt: at, customerValue: { clv: s.clv, crv: null }, crossed: [] },
  };
}

async function insertHistory(db: Kysely<Database>, cases: { id: string; s: Synthetic; openedAt: Date }[]) {
  const BATCH = 2_000;
  for (let i = 0; i < cases.length; i += BATCH) {
    const part = cases.slice(i, i + BATCH);
    const states = part.map((c) => caseState(c.id, c.s, c.openedAt));
    await sql`insert into customers (id, status, segment, version, state, created_at, updated_at)
      select x.id, 'active', x.segment, 1, jsonb_build_object('id', x.id), now(), now()
      from jsonb_to_recordset(${JSON.stringify(part.map((c) => ({ id: `cu-${c.id}`, segment: c.s.segment })))}::jsonb) as x(id text, segment text)`.execute(db);
    await sql`insert into cases (id, template_key, template_version, title, status, priority, customer_id, version, state, opened_at, updated_at)
      select x.state->>'id', ${TEMPLATE}, 1, 'bench', 'resolved', 'normal', x.state->'customer'->>'id', (x.state->>'version')::int, x.state,
        (x.state->>'openedAt')::timestamptz, (x.state->>'updatedAt')::timestamptz
      from jsonb_array_elements(${JSON.stringify(states)}::jsonb) as x(state)`.execute(db);
    const journal = states.flatMap((st) => [
      { case_id: st.id, version: 1, idx: 0, type: 'case.opened', data: { template: `${TEMPLATE}@1` }, at: st.openedAt },
      { case_id: st.id, version: 1, idx: 1, type: 'fragment.added', data: { fragmentId: `${st.id}-f0`, definition: 'finish@1', source: 'default' }, at: st.openedAt },
      ...st.fragments.slice(1).map((f, j) => ({ case_id: st.id, version: 2 + j, idx: 0, type: 'fragment.added', data: { fragmentId: f.id, definition: f.definition, source: 'library' }, at: st.openedAt })),
      { case_id: st.id, version: st.version, idx: 0, type: 'goal.achieved', data: { goalKey: 'done' }, at: st.resolvedAt! },
    ]);
    await sql`insert into journal (case_id, version, idx, type, actor_id, actor_role, data, at)
      select x.case_id, x.version, x.idx, x.type, 'bench', 'agent', x.data, x.at
      from jsonb_to_recordset(${JSON.stringify(journal)}::jsonb) as x(case_id text, version int, idx int, type text, data jsonb, at timestamptz)`.execute(db);
  }
}

async function main() {
  const bench = await createBenchDatabase(SERVER_URL);
  const pool = new pg.Pool({ connectionString: bench.url, max: 8 });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const logger = pino({ level: 'silent' });
  let clock = Date.parse('2026-06-01T08:00:00Z');
  try {
    await migrateToLatest(db);
    const database = { db, ping: async () => {}, close: async () => {} } as unknown as DatabaseHandle;
    const jobs = createInProcessJobQueue({ logger });
    const core = await assembleCore({ database, jobs, logger, templatesDir: await writeCatalog(), now: () => new Date(clock) });
    const admin = { id: 'bench', role: 'admin' as const };

    // 1a. History through the command runner (recorded, replayable).
    const r0 = performance.now();
    const runnerCases: { id: string; s: Synthetic }[] = [];
    for (let i = 0; i < RUNNER_CASES; i++) {
      const s = synthesize();
      clock += 60_000;
      const opened = await core.runner.run({
        template: { key: TEMPLATE },
        command: { type: 'case.open', input: { title: 'bench', caseFile: { tier: s.tier }, customer: { handle: `@r${i}`, channel: s.channel } } },
        actor: admin,
        respond: ({ case: c }) => ({ statusCode: 201, body: c.id }),
      });
      const id = opened.body as string;
      for (const step of s.added) {
        await core.runner.run({ caseId: id, command: { type: 'fragment.add', source: { kind: 'library', ref: `${step}@1` } }, actor: admin, respond: () => ({ statusCode: 201, body: null }) });
      }
      const back = clock;
      if (!s.onTime) clock += 2 * 86_400_000;
      await core.runner.run({ caseId: id, command: { type: 'event.send', event: { type: 'FINISH' } }, actor: admin, respond: () => ({ statusCode: 200, body: null }) });
      clock = back;
      runnerCases.push({ id, s });
    }
    await sql`update customers cu set segment = x.segment from jsonb_to_recordset(${JSON.stringify(runnerCases.map((c) => ({ id: c.id, segment: c.s.segment })))}::jsonb) as x(id text, segment text), cases c where c.id = x.id and cu.id = c.customer_id`.execute(db);
    const runnerSeconds = (performance.now() - r0) / 1000;

    // 1b. The rest of the history in SQL batches.
    const s0 = performance.now();
    const sqlCases = Array.from({ length: Math.max(0, HISTORY - RUNNER_CASES) }, (_, i) => ({ id: `h${String(i).padStart(6, '0')}`, s: synthesize(), openedAt: new Date(Date.parse('2026-01-01T08:00:00Z') + i * 600_000) }));
    await insertHistory(db, sqlCases);
    await sql`analyze`.execute(db);
    const insertSeconds = (performance.now() - s0) / 1000;

    // 2. Recommendations on held-out cases.
    const recommender = createRecommender({ catalog: core.catalog });
    const i0 = performance.now();
    const indexed = await recommender.index(db, { maxCases: HISTORY + 1, batch: 2_000 });
    const indexSeconds = (performance.now() - i0) / 1000;
    await sql`analyze learning_cases`.execute(db);
    const frequency = await db.selectFrom('learning_additions').select(['fragment_key', (eb) => eb.fn.countAll<string>().as('n')]).groupBy('fragment_key').orderBy('n', 'desc').limit(3).execute();
    const baselineTop3 = frequency.map((r) => r.fragment_key);
    let evaluated = 0;
    let hits = 0;
    let baselineHits = 0;
    let plantedTop1 = 0;
    const latencies: number[] = [];
    for (let i = 0; i < HELD_OUT; i++) {
      const s = synthesize();
      if (!s.onTime) continue;
      const state = caseState(`held-${i}`, s, new Date(clock), true);
      const t = performance.now();
      const result = await recommender.recommend(db, state, { limit: 3, segment: s.segment, indexFirst: false });
      latencies.push(performance.now() - t);
      const top3 = result.recommendations.map((r) => r.fragmentKey);
      evaluated++;
      if (top3.some((k) => s.added.includes(k))) hits++;
      if (baselineTop3.some((k) => s.added.includes(k))) baselineHits++;
      if (top3[0] === goodStep(s.channel, s.segment)) plantedTop1++;
    }
    latencies.sort((a, b) => a - b);

    // 3a. Conformance over the history.
    const report = await conformanceReport(db, core, { template: TEMPLATE });

    // 3b. Plan as of a version, for a case with PLAN_ENTRIES journal entries.
    const p0 = performance.now();
    const long = (await core.runner.run({ template: { key: TEMPLATE }, command: { type: 'case.open', input: { title: 'long' } }, actor: admin, respond: ({ case: c }) => ({ statusCode: 201, body: c.id }) })).body as string;
    const entries = async () => Number((await db.selectFrom('journal').select((eb) => eb.fn.countAll<string>().as('n')).where('case_id', '=', long).executeTakeFirstOrThrow()).n);
    let count = await entries();
    while (count < PLAN_ENTRIES) {
      for (let i = 0; i < 50 && count + i < PLAN_ENTRIES; i++) {
        await core.runner.run({ caseId: long, command: { type: 'content.add', kind: 'note', data: { text: `note ${count + i}` } }, actor: admin, respond: () => ({ statusCode: 201, body: null }) });
      }
      count = await entries();
    }
    const buildSeconds = (performance.now() - p0) / 1000;
    const lastVersion = (await db.selectFrom('cases').select('version').where('id', '=', long).executeTakeFirstOrThrow()).version;
    const planTimes: number[] = [];
    let planOk = true;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const plan = await reconstructPlan(db, core, long, { version: lastVersion });
      planTimes.push(performance.now() - t);
      planOk &&= plan?.plan.version === lastVersion;
    }
    const midTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await reconstructPlan(db, core, long, { version: Math.ceil(lastVersion / 2) });
      midTimes.push(performance.now() - t);
    }
    planTimes.sort((a, b) => a - b);
    midTimes.sort((a, b) => a - b);

    const summary = {
      bench: 'learning',
      history: { cases: HISTORY, via_runner: RUNNER_CASES, via_sql: sqlCases.length, runner_seconds: round(runnerSeconds, 1), sql_insert_seconds: round(insertSeconds, 1), indexed, index_seconds: round(indexSeconds, 2) },
      recommendations: {
        held_out_on_time: evaluated,
        top3_hit_rate: round(hits / evaluated, 3),
        baseline_top3_hit_rate: round(baselineHits / evaluated, 3),
        baseline_top3: baselineTop3,
        planted_fragment_ranked_first: round(plantedTop1 / evaluated, 3),
        latency_ms: { p50: round(percentile(latencies, 50), 1), p99: round(percentile(latencies, 99), 1) },
      },
      conformance: { cases: report.cases, measured: report.measured, elapsed_ms: round(report.elapsed_ms, 0), mean_fitness: report.fitness.mean },
      plan_as_of: { journal_entries: count, case_version: lastVersion, build_seconds: round(buildSeconds, 1), latest_ms_p50: round(percentile(planTimes, 50), 1), middle_ms_p50: round(percentile(midTimes, 50), 1), ok: planOk },
    };
    console.log(`history: ${HISTORY} resolved cases (${RUNNER_CASES} through the runner in ${summary.history.runner_seconds} s, ${sqlCases.length} by SQL in ${summary.history.sql_insert_seconds} s), indexed in ${summary.history.index_seconds} s`);
    console.log(`recommendations: top-3 hit rate ${summary.recommendations.top3_hit_rate} vs most-frequent baseline ${summary.recommendations.baseline_top3_hit_rate} (${evaluated} held-out cases that met their goal on time); planted fragment first in ${summary.recommendations.planted_fragment_ranked_first}; p50 ${summary.recommendations.latency_ms.p50} ms, p99 ${summary.recommendations.latency_ms.p99} ms`);
    console.log(`conformance report: ${report.cases} cases (${report.measured} replayable) in ${summary.conformance.elapsed_ms} ms`);
    console.log(`plan as of: ${count} journal entries (v${lastVersion}): latest ${summary.plan_as_of.latest_ms_p50} ms, middle ${summary.plan_as_of.middle_ms_p50} ms (p50 of 5)`);
    console.log(JSON.stringify(summary));
    await jobs.close();
  } finally {
    await db.destroy();
    await bench.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
