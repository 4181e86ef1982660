/**
 * The learning loop over a synthetic history, on a throwaway database:
 *
 * 1. History: HISTORY resolved cases of one template (bench-care), every one decided command by
 *    command by the engine (the pure `decide` the command runner calls, with its command
 *    records) and written through the case store's write path (`saveDecisions`), a batch of cases
 *    per statement: open, the customer's post, the added fragments, the breach timer when late,
 *    FINISH. So every case replays; a sample (REPLAY_SAMPLE) is rebuilt from the journal and
 *    compared with the stored case. Planted pattern: in situation S = (channel, segment),
 *    fragment good(S) is added now and then, and a case that added it meets its goal on time far
 *    more often (0.80 vs 0.35).
 * 2. Recommendations: HELD_OUT cases generated the same way (opened, not written) but kept out of the history; for
 *    each whose goal was met on time, a hit is one of its added fragments in the top 3 that the
 *    recommender ranks from its opening situation. Baseline: the 3 fragments added most often.
 * 3. The conformance report's time over the whole history (helper "history"'s conformanceReport)
 *    and plan-as-of time for a case with ~1,000 journal entries (reconstructPlan).
 * Last line: one JSON object.
 *
 *   npm run bench:learning   (BENCH_POSTGRES_URL, BENCH_HISTORY=20000, BENCH_HELD_OUT=500, BENCH_REPLAY_SAMPLE=200, BENCH_PLAN_ENTRIES=1000)
 */
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import type { Engine } from '../src/cases/engine.js';
import type { CaseState, Command, CustomerValue } from '../src/cases/types.js';
import type { Catalog } from '../src/commands/catalog.js';
import { createRecommender } from '../src/commands/recommend-fragments.js';
import { assembleCore } from '../src/core.js';
import { conformanceReport } from '../src/history/conformance-report.js';
import { reconstructCase, reconstructPlan, type HistoryDeps } from '../src/history/reconstruct-plan.js';
import { saveDecisions, type SaveInput } from '../src/persistence/case-store.js';
import { migrateToLatest } from '../src/persistence/migrate.js';
import type { Database } from '../src/persistence/schema.js';
import { createInProcessJobQueue } from '../src/platform/in-process-job-queue.js';
import type { DatabaseHandle } from '../src/platform/database.js';
import { createBenchDatabase, percentile, round } from './support.js';

const SERVER_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const HISTORY = Number(process.env.BENCH_HISTORY ?? 20_000);
const REPLAY_SAMPLE = Number(process.env.BENCH_REPLAY_SAMPLE ?? 200);
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

const AGENT = { id: 'bench-agent', role: 'agent' as const };

/**
 * One synthetic case decided command by command through the engine (the same pure `decide` the
 * command runner calls, wrapped by `recordCommands`), with the inputs the runner would give it:
 * open (customer, case file, customer value), the customer's post (channel, provided sentiment),
 * the added fragments, the goal's breach timer when it was late, then FINISH. Returns the writes
 * the runner would make (for `saveDecisions`) and the case after each command.
 */
function decideCase(engine: Engine, catalog: Catalog, id: string, s: Synthetic, openedAt: number, options: { open?: boolean } = {}): { saves: SaveInput[]; state: CaseState } {
  const template = catalog.template(TEMPLATE, 1)!;
  let n = 0;
  const newId = () => `${id}-${(n++).toString(36)}`;
  const saves: SaveInput[] = [];
  let state: CaseState | undefined;
  const customerValue = { clv: s.clv, crv: null };
  const step = (command: Command, at: number, extra: { customerValue?: CustomerValue | null; firedTimerId?: string } = {}) => {
    const d = engine.decide(state, command, {
      now: new Date(at),
      actor: AGENT,
      newId,
      template,
      definitions: (ref) => catalog.fragment(ref),
      ...(extra.customerValue !== undefined ? { customerValue: extra.customerValue } : {}),
    });
    if (!d.ok) throw new Error(`${id}: ${command.type} refused: ${d.error.code} ${d.error.message}`);
    if (d.case === state) return;
    saves.push({ previousVersion: state?.version, ...(state ? { previous: state } : {}), next: d.case, effects: d.effects, journal: d.journal, ...(extra.firedTimerId ? { firedTimerId: extra.firedTimerId } : {}) });
    state = d.case;
  };
  step({ type: 'case.open', input: { title: 'bench', caseFile: { tier: s.tier }, customer: { id: `cu-${id}`, channel: s.channel, handle: `@${id}` } } }, openedAt, { customerValue });
  step({ type: 'content.add', kind: 'social_post', data: { channel: s.channel, post_id: `${id}-p`, sentiment: { score: round(s.sentiment, 3) } } }, openedAt + 60_000, { customerValue });
  if (!options.open) {
    s.added.forEach((k, i) => step({ type: 'fragment.add', source: { kind: 'library', ref: `${k}@1` } }, openedAt + (i + 2) * 60_000));
    if (!s.onTime) {
      const timerId = state!.goals[0]!.deadlineTimerId!;
      step({ type: 'timer.fire', timerId }, Date.parse(state!.goals[0]!.deadlineAt!), { firedTimerId: timerId });
    }
    step({ type: 'event.send', event: { type: 'FINISH' } }, openedAt + (s.onTime ? 3 : 30) * 3_600_000);
    if (state!.status !== 'resolved') throw new Error(`${id}: not resolved after FINISH (${state!.status})`);
  }
  return { saves, state: state! };
}

/**
 * Writes the history as the command runner would, through the case store's write path
 * (`saveDecisions`: case rows, journal, command records, tasks, timers, outbox, goal views), a
 * batch of cases at a time: their first commands in one statement, their second in the next...
 */
async function writeHistory(db: Kysely<Database>, engine: Engine, catalog: Catalog, cases: { id: string; s: Synthetic; openedAt: number }[]): Promise<{ decideSeconds: number; writeSeconds: number; commands: number }> {
  const BATCH = 500;
  let decideMs = 0;
  let writeMs = 0;
  let commands = 0;
  for (let i = 0; i < cases.length; i += BATCH) {
    const part = cases.slice(i, i + BATCH);
    const d0 = performance.now();
    const decided = part.map((c) => decideCase(engine, catalog, c.id, c.s, c.openedAt).saves);
    decideMs += performance.now() - d0;
    const w0 = performance.now();
    await sql`insert into customers (id, status, segment, version, state, created_at, updated_at)
      select x.id, 'active', x.segment, 1, jsonb_build_object('id', x.id), now(), now()
      from jsonb_to_recordset(${JSON.stringify(part.map((c) => ({ id: `cu-${c.id}`, segment: c.s.segment })))}::jsonb) as x(id text, segment text)`.execute(db);
    await db.transaction().execute(async (trx) => {
      for (let k = 0; ; k++) {
        const inputs = decided.flatMap((saves) => (saves[k] ? [saves[k]!] : []));
        if (inputs.length === 0) break;
        const saved = await saveDecisions(trx, inputs);
        if (saved.written !== inputs.length) throw new Error(`wrote ${saved.written} of ${inputs.length} cases at step ${k}`);
        commands += inputs.length;
      }
    });
    writeMs += performance.now() - w0;
  }
  return { decideSeconds: decideMs / 1000, writeSeconds: writeMs / 1000, commands };
}

/** Replays `sample` cases from their journal and compares each with the stored case. */
async function checkReplay(db: Kysely<Database>, core: HistoryDeps, ids: string[]): Promise<{ checked: number; identical: number; first_difference: string | null }> {
  let identical = 0;
  let first: string | null = null;
  for (const id of ids) {
    const live = (await db.selectFrom('cases').select(['state', 'version']).where('id', '=', id).executeTakeFirstOrThrow());
    const rebuilt = await reconstructCase(db, core, id, { version: live.version });
    const same = rebuilt?.complete === true && isDeepStrictEqual(JSON.parse(JSON.stringify(rebuilt.state)), live.state);
    if (same) identical++;
    else first ??= `${id}: ${rebuilt?.diverged?.reason ?? 'state differs'}`;
  }
  return { checked: ids.length, identical, first_difference: first };
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

    // 1. The history, decided command by command by the engine and written through the case store.
    const h0 = performance.now();
    const historyCases = Array.from({ length: HISTORY }, (_, i) => ({ id: `h${String(i).padStart(6, '0')}`, s: synthesize(), openedAt: Date.parse('2026-01-01T08:00:00Z') + i * 600_000 }));
    const written = await writeHistory(db, core.engine, core.catalog, historyCases);
    await sql`analyze`.execute(db);
    const historySeconds = (performance.now() - h0) / 1000;
    const historyIds = (await db.selectFrom('cases').select('id').where('template_key', '=', TEMPLATE).orderBy('id').execute()).map((r) => r.id);
    // A sample, spread over the history, replayed and compared with the stored cases.
    const sampleIds = historyIds.filter((_, i) => i % Math.max(1, Math.floor(historyIds.length / REPLAY_SAMPLE)) === 0).slice(0, REPLAY_SAMPLE);
    const replayCheck = await checkReplay(db, core, sampleIds);

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
    const sumLatencies: number[] = [];
    for (let i = 0; i < HELD_OUT; i++) {
      const s = synthesize();
      if (!s.onTime) continue;
      // Its opening situation, decided by the engine as the history's were (written nowhere).
      const state = decideCase(core.engine, core.catalog, `held-${i}`, s, clock, { open: true }).state;
      const t = performance.now();
      // As the route calls it (an indexing pass for cases resolved since, then the sums), and the sums alone, alternately.
      const indexFirst = i % 2 === 0;
      const result = await recommender.recommend(db, state, { limit: 3, segment: s.segment, indexFirst });
      (indexFirst ? latencies : sumLatencies).push(performance.now() - t);
      const top3 = result.recommendations.map((r) => r.fragmentKey);
      evaluated++;
      if (top3.some((k) => s.added.includes(k))) hits++;
      if (baselineTop3.some((k) => s.added.includes(k))) baselineHits++;
      if (top3[0] === goodStep(s.channel, s.segment)) plantedTop1++;
    }
    latencies.sort((a, b) => a - b);
    sumLatencies.sort((a, b) => a - b);

    // 3a. Conformance over the history.
    const report = await conformanceReport(db, core, { template: TEMPLATE });
    if (report.measured < HISTORY) console.error(`conformance measured ${report.measured} of ${HISTORY} history cases`);

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
      history: { cases: HISTORY, commands: written.commands, seconds: round(historySeconds, 1), decide_seconds: round(written.decideSeconds, 1), write_seconds: round(written.writeSeconds, 1), replay_sample: replayCheck, indexed, index_seconds: round(indexSeconds, 2) },
      recommendations: {
        held_out_on_time: evaluated,
        top3_hit_rate: round(hits / evaluated, 3),
        baseline_top3_hit_rate: round(baselineHits / evaluated, 3),
        baseline_top3: baselineTop3,
        planted_fragment_ranked_first: round(plantedTop1 / evaluated, 3),
        latency_ms: { p50: round(percentile(latencies, 50), 1), p99: round(percentile(latencies, 99), 1) },
        latency_without_index_pass_ms: { p50: round(percentile(sumLatencies, 50), 1), p99: round(percentile(sumLatencies, 99), 1) },
      },
      conformance: { cases: report.cases, measured: report.measured, elapsed_ms: round(report.elapsed_ms, 0), mean_fitness: report.fitness.mean },
      plan_as_of: { journal_entries: count, case_version: lastVersion, build_seconds: round(buildSeconds, 1), latest_ms_p50: round(percentile(planTimes, 50), 1), middle_ms_p50: round(percentile(midTimes, 50), 1), ok: planOk },
    };
    console.log(`history: ${HISTORY} resolved cases, ${written.commands} commands decided by the engine (${summary.history.decide_seconds} s) and written through the case store (${summary.history.write_seconds} s), ${summary.history.seconds} s in all; indexed in ${summary.history.index_seconds} s`);
    console.log(`replay check: ${replayCheck.identical} of ${replayCheck.checked} sampled cases rebuilt from the journal equal the stored case${replayCheck.first_difference ? ` (first difference: ${replayCheck.first_difference})` : ''}`);
    console.log(`recommendations: top-3 hit rate ${summary.recommendations.top3_hit_rate} vs most-frequent baseline ${summary.recommendations.baseline_top3_hit_rate} (${evaluated} held-out cases that met their goal on time); planted fragment first in ${summary.recommendations.planted_fragment_ranked_first}; p50 ${summary.recommendations.latency_ms.p50} ms, p99 ${summary.recommendations.latency_ms.p99} ms as the route calls it (${summary.recommendations.latency_without_index_pass_ms.p50} / ${summary.recommendations.latency_without_index_pass_ms.p99} ms without the indexing pass)`);
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
