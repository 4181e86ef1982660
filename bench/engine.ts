/**
 * Engine benchmark: durable events/s through the command transaction at concurrency 1, 8, 32
 * over 1,000 cases, against two ceilings for the equivalent transaction (lock the case row,
 * update its JSON document, insert a journal row, commit), measured in the same run, rounds
 * alternating so machine noise hits all alike:
 *   - pgbench running bench/pgbench-event.sql (one transaction per event, C client, no Node);
 *   - the same transaction sent from Node through the same pool ("raw", the Node-side ceiling).
 * The engine runs with group commit (the default against Postgres) and, for comparison, without.
 *
 * The engine with group commit writes cases of its own (1,000 more): it keeps a copy of each case
 * it wrote and decides the next command on it (commands/written-cases.ts), which only pays while
 * no other writer changes its cases. BENCH_SHARED_CASES=1 runs it on the others' cases instead,
 * so every case it meets was changed behind it (the copy is stale once, then the case is loaded).
 *
 *   npm run bench                     (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres)
 *   BENCH_EVENTS=4000 npm run bench   (events per measurement)
 *   BENCH_CONCURRENCY=8 BENCH_ROUNDS=3 npm run bench
 *   TESSERA_WRITTEN_CASES=0 npm run bench   (group commit keeps no copies, as the server's setting)
 *
 * The last line is one JSON object with the figures.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { promisify } from 'node:util';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { pino } from 'pino';
import { assembleCore } from '../src/core.js';
import { migrateToLatest } from '../src/persistence/migrate.js';
import { openDatabase } from '../src/platform/database.js';
import { createInProcessJobQueue } from '../src/platform/in-process-job-queue.js';
import { createCommandRunner } from '../src/commands/run-command.js';
import { cpuSeconds, createBenchDatabase, percentile, round, runClosedLoop, type RunResult } from './support.js';

const run = promisify(execFile);

const SERVER_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const CASES = 1_000;
const EVENTS = Number(process.env.BENCH_EVENTS ?? 3_000);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,8,32').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const PGBENCH_SCRIPT = path.resolve(import.meta.dirname, 'pgbench-event.sql');
const SHARED_CASES = process.env.BENCH_SHARED_CASES === '1';
const WRITTEN_CASES = Number(process.env.TESSERA_WRITTEN_CASES ?? 2_000);

/**
 * One pgbench round: `concurrency` clients, `events` transactions in all, per-transaction log
 * for the percentiles. Returns the transactions it committed with its rate and latencies.
 */
async function pgbenchRound(url: string, concurrency: number, events: number): Promise<RunResult> {
  const perClient = Math.ceil(events / concurrency);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-pgbench-'));
  try {
    const { stdout } = await run('pgbench', [
      '-n', '-f', PGBENCH_SCRIPT, '-D', `cases=${CASES}`, '-c', String(concurrency), '-j', String(Math.min(concurrency, 2)),
      '-t', String(perClient), '-l', '--log-prefix', path.join(dir, 'tx'), url,
    ], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
    const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
    const done = /number of transactions actually processed: (\d+)/.exec(stdout);
    if (!tps || !done) throw new Error(`pgbench printed no result:\n${stdout}`);
    const latencies: number[] = [];
    for (const file of await readdir(dir)) {
      // client_id transaction_no latency_us script_no epoch epoch_us
      for (const line of (await readFile(path.join(dir, file), 'utf8')).split('\n')) {
        const us = Number(line.split(' ')[2]);
        if (Number.isFinite(us) && line.length > 0) latencies.push(us / 1000);
      }
    }
    latencies.sort((a, b) => a - b);
    const ops = Number(done[1]);
    return { ops, seconds: ops / Number(tps[1]), perSecond: Number(tps[1]), p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
const POOL = 32;

/** CPU seconds so far: this Node process, the clients it ran and reaped (pgbench), Postgres. */
function cpuNow() {
  const own = process.cpuUsage();
  const node = (own.user + own.system) / 1e6;
  return { node, pgbench: (cpuSeconds({ pid: process.pid }) ?? node) - node, postgres: cpuSeconds({ command: 'postgres' }) ?? 0 };
}
type Cpu = ReturnType<typeof cpuNow>;

/** Runs one measurement and adds the CPU it took to `into` (per part, seconds) with its ops. */
async function measured(into: { ops: number; cpu: Cpu }, result: () => Promise<RunResult>): Promise<RunResult> {
  const before = cpuNow();
  const r = await result();
  const after = cpuNow();
  into.ops += r.ops;
  for (const k of Object.keys(before) as (keyof Cpu)[]) into.cpu[k] += after[k] - before[k];
  return r;
}

const logger = pino({ level: 'warn' });

async function main() {
  const bench = await createBenchDatabase(SERVER_URL);
  const database = await openDatabase({ databaseUrl: bench.url, dataDir: '/nonexistent', poolSize: POOL });
  const jobs = createInProcessJobQueue({ logger });
  try {
    await migrateToLatest(database.db);
    const core = await assembleCore({ database, jobs, logger, templatesDir: path.resolve(import.meta.dirname, 'catalog'), groupCommit: { writtenCases: WRITTEN_CASES } });
    const actor = { id: 'bench', role: 'agent' as const };

    const openCases = async () => {
      const ids: string[] = [];
      const opened = await runClosedLoop(8, CASES, async () => {
        const response = await core.runner.run({
          template: { key: 'bench-case' },
          command: { type: 'case.open', input: { title: 'bench', ownerId: 'bench' } },
          actor,
          respond: ({ case: c }) => ({ statusCode: 201, body: { id: c.id } }),
        });
        ids.push((response.body as { id: string }).id);
      });
      console.log(`opened ${CASES} cases: ${round(opened.perSecond)} cases/s`);
      return ids;
    };
    // The cases pgbench, the raw transaction and the engine without group commit write.
    const caseIds = await openCases();
    const engineCaseIds = SHARED_CASES ? caseIds : await openCases();

    // pgbench draws integers: map 1..CASES to the case ids.
    await sql`create table bench_case_ids (n int primary key, id text not null)`.execute(database.db);
    await sql`insert into bench_case_ids (n, id) select ordinality, id from unnest(${caseIds}::text[]) with ordinality as u(id)`.execute(database.db);
    await sql`analyze`.execute(database.db);

    // The same engine without group commit: one transaction per event.
    const alone = createCommandRunner({ db: database.db, engine: core.engine, catalog: core.catalog, clock: core.clock });

    const pickFrom = (ids: string[]) => () => ids[Math.floor(Math.random() * ids.length)]!;
    const pick = pickFrom(caseIds);
    let n = 0;

    const eventOn = (runner: typeof alone, pickCase: () => string) => async () => {
      await runner.run({
        caseId: pickCase(),
        command: { type: 'event.send', event: { type: 'NOTE', data: { n: n++ } } },
        actor,
        respond: ({ case: c }) => ({ statusCode: 200, body: { version: c.version } }),
      });
    };
    const engineOp = eventOn(core.runner, pickFrom(engineCaseIds));
    const aloneOp = eventOn(alone, pick);

    // The same durable work by hand: lock, update the JSON document, insert a journal row, commit.
    const rawOp = async () => {
      const id = pick();
      await database.db.transaction().execute(async (trx) => {
        const row = await sql<{ state: { version: number; caseFile: Record<string, unknown> }; version: number }>`
          select state, version from cases where id = ${id} for update`.execute(trx);
        const current = row.rows[0]!;
        const state = { ...current.state, caseFile: { ...current.state.caseFile, lastNote: n++ }, version: current.version + 1 };
        await sql`
          with u as (update cases set state = ${JSON.stringify(state)}::jsonb, version = ${state.version}, updated_at = now() where id = ${id})
          insert into journal (case_id, version, idx, type, actor_id, actor_role, reason, data, at)
          values (${id}, ${state.version}, 0, 'bench.raw', 'bench', 'agent', null, ${JSON.stringify({ n })}::jsonb, now())`.execute(trx);
      });
    };

    // Warm up every path (JIT, connection pool, plan cache).
    let applied = 0;
    const counted = async (result: Promise<RunResult>) => {
      const r = await result;
      applied += r.ops;
      return r;
    };
    await counted(runClosedLoop(8, 500, engineOp));
    await counted(runClosedLoop(8, 500, aloneOp));
    await counted(runClosedLoop(8, 500, rawOp));
    await counted(pgbenchRound(bench.url, 8, 500));

    const best = (runs: RunResult[]) => runs.reduce((a, b) => (a.perSecond >= b.perSecond ? a : b));
    const show = (r: RunResult) => `${round(r.perSecond).toString().padStart(6)}/s p50 ${round(r.p50Ms, 2)} p99 ${round(r.p99Ms, 2)} ms`;
    const figures: Record<string, number> = {};
    for (const c of CONCURRENCY) {
      // Alternate the four so machine noise hits all alike; keep each one's best round.
      const runs = { pgbench: [] as RunResult[], raw: [] as RunResult[], engine: [] as RunResult[], alone: [] as RunResult[] };
      // CPU per event by process, over all rounds of a kind: where the two cores go.
      const zero = () => ({ ops: 0, cpu: { node: 0, pgbench: 0, postgres: 0 } });
      const cpu = { pgbench: zero(), raw: zero(), engine: zero(), alone: zero() };
      for (let r = 0; r < ROUNDS; r++) {
        runs.pgbench.push(await counted(measured(cpu.pgbench, () => pgbenchRound(bench.url, c, EVENTS))));
        runs.engine.push(await counted(measured(cpu.engine, () => runClosedLoop(c, EVENTS, engineOp))));
        runs.raw.push(await counted(measured(cpu.raw, () => runClosedLoop(c, EVENTS, rawOp))));
        runs.alone.push(await counted(measured(cpu.alone, () => runClosedLoop(c, EVENTS, aloneOp))));
      }
      const perEvent = (k: keyof typeof cpu) => {
        const { ops, cpu: used } = cpu[k];
        return { node: round((used.node * 1000) / ops, 3), postgres: round((used.postgres * 1000) / ops, 3), pgbench: round((used.pgbench * 1000) / ops, 3) };
      };
      const engine = best(runs.engine);
      const pgbench = best(runs.pgbench);
      const raw = best(runs.raw);
      const engineAlone = best(runs.alone);
      console.log(
        `c=${String(c).padStart(2)}  engine ${show(engine)} | pgbench ${show(pgbench)} | raw Node ${show(raw)} | engine, no group commit ${show(engineAlone)}` +
          `  -> engine/pgbench ${round(engine.perSecond / pgbench.perSecond, 2)}, engine/raw ${round(engine.perSecond / raw.perSecond, 2)}`,
      );
      const showCpu = (k: keyof typeof cpu) => {
        const p = perEvent(k);
        return k === 'pgbench' ? `pgbench client ${p.pgbench} + postgres ${p.postgres}` : `node ${p.node} + postgres ${p.postgres}`;
      };
      console.log(`      CPU ms per event: engine ${showCpu('engine')} | pgbench ${showCpu('pgbench')} | raw ${showCpu('raw')} | no group commit ${showCpu('alone')}`);
      console.log(`      rounds: engine ${runs.engine.map((r) => round(r.perSecond)).join(', ')}; pgbench ${runs.pgbench.map((r) => round(r.perSecond)).join(', ')}`);
      figures[`c${c}_events_per_s`] = round(engine.perSecond);
      figures[`c${c}_p50_ms`] = round(engine.p50Ms, 2);
      figures[`c${c}_p99_ms`] = round(engine.p99Ms, 2);
      figures[`c${c}_pgbench_tps`] = round(pgbench.perSecond);
      figures[`c${c}_pgbench_p99_ms`] = round(pgbench.p99Ms, 2);
      figures[`c${c}_ceiling_per_s`] = round(raw.perSecond);
      figures[`c${c}_ceiling_p99_ms`] = round(raw.p99Ms, 2);
      figures[`c${c}_ratio_pgbench`] = round(engine.perSecond / pgbench.perSecond, 3);
      figures[`c${c}_ratio`] = round(engine.perSecond / raw.perSecond, 3);
      figures[`c${c}_no_group_commit_per_s`] = round(engineAlone.perSecond);
      figures[`c${c}_no_group_commit_p99_ms`] = round(engineAlone.p99Ms, 2);
      for (const k of ['engine', 'pgbench', 'raw', 'alone'] as const) {
        const p = perEvent(k);
        figures[`c${c}_${k}_cpu_ms_per_event`] = round(p.node + p.postgres + p.pgbench, 3);
        figures[`c${c}_${k}_postgres_cpu_ms_per_event`] = p.postgres;
      }
    }

    // Every applied event is one version (the engine's and the three raw kinds alike): check nothing was lost or doubled.
    const check = await sql<{ versions: number }>`select sum(version - 1)::int as versions from cases`.execute(database.db);
    const { versions } = check.rows[0]!;
    console.log(`consistency: case versions advanced ${versions} times for ${applied} applied transactions`);
    if (versions !== applied) throw new Error('lost or doubled updates');

    console.log(JSON.stringify({ bench: 'engine', cases: CASES, shared_cases: SHARED_CASES, written_cases: WRITTEN_CASES, events_per_run: EVENTS, rounds: ROUNDS, load_average: os.loadavg().map((l) => round(l, 2)), ...figures, run_id: randomUUID().slice(0, 8) }));
  } finally {
    await jobs.close();
    await database.close();
    await bench.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
