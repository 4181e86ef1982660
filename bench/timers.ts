/**
 * Timer benchmark: arms BENCH_TIMERS (default 100,000) timers due within a BENCH_WINDOW_S (60 s)
 * window through the real path — rows in Postgres, delayed jobs in BullMQ handed over by the relay —
 * and lets BullMQ workers fire them through the real processor and command transaction.
 *
 *   npm run bench:timers
 *   BENCH_TIMERS=20000 BENCH_BATCH=50 BENCH_TRANSACTIONS=8 npm run bench:timers
 *   BENCH_PROCESSES=2 npm run bench:timers      (workers in N child processes instead of this one)
 *   BENCH_WARMUP=0 npm run bench:timers         (no warm-up timers before the window: a cold start)
 *
 * Cases: one prototype case is opened through the command path (template bench-timer-case: one
 * fragment waiting on an `after` delay); the other cases are copies of it made in bulk by SQL, each
 * with its own case id and timer id, so every firing does the real work (lock, load, XState
 * transition, write case + journal + timer row). Lateness is settled_at - due_at of each row.
 * `lost` counts rows still pending at the end. The last line is one JSON object.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { sql, type Kysely } from 'kysely';
import { pino } from 'pino';
import { assembleCore } from '../src/core.js';
import { migrateToLatest } from '../src/persistence/migrate.js';
import { createBullmqJobQueue } from '../src/platform/bullmq-job-queue.js';
import { openDatabase } from '../src/platform/database.js';
import { createSecretBox } from '../src/platform/secret-box.js';
import { startWorkers, type Workers } from '../src/worker.js';
import { createBenchDatabase, deleteRedisPrefix, round } from './support.js';

const SERVER_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const TIMERS = Number(process.env.BENCH_TIMERS ?? 100_000);
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 60);
/**
 * Timers due in the BENCH_WARMUP_S seconds before the window, fired through the same path but
 * left out of the figures: a worker that has run a while (JIT-compiled, pool connections open,
 * fragment definitions compiled) is what the window measures. BENCH_WARMUP=0 measures a cold start.
 */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3_000);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 3);
const TOTAL = TIMERS + WARMUP;
/** Seconds from the end of the bulk insert to the first due time (arming must fit in it). */
const LEAD_S = Number(process.env.BENCH_LEAD_S ?? 15);
const DRAIN_S = Number(process.env.BENCH_DRAIN_S ?? 300);
/** Timers per firing transaction, and firing transactions at once (the worker's defaults). */
const BATCH = Number(process.env.BENCH_BATCH ?? 250);
const TRANSACTIONS = Number(process.env.BENCH_TRANSACTIONS ?? 4);
const POOL = Number(process.env.BENCH_POOL ?? 20);
const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 0);
const CLONE_BATCH = 5_000;
/** Write a CPU profile (.cpuprofile, for Chrome DevTools) of this process's firing phase here. */
const PROFILE_TO = process.env.BENCH_PROFILE;
/** One deployment key for the bench and its worker processes (no webhook secrets are used here). */
const SECRET_KEY = randomBytes(32);

const CATALOG = path.resolve(import.meta.dirname, 'catalog');
const ROOT = path.resolve(import.meta.dirname, '..');
const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'warn' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const bench = await createBenchDatabase(SERVER_URL);
  const prefix = `tessera-bench-${randomBytes(4).toString('hex')}`;
  const database = await openDatabase({ databaseUrl: bench.url, dataDir: '/nonexistent', poolSize: POOL });
  const jobs = createBullmqJobQueue({ redisUrl: REDIS_URL, prefix, logger });
  const children: ChildProcess[] = [];
  let workers: Workers | undefined;
  try {
    await migrateToLatest(database.db);
    const core = await assembleCore({ database, jobs, logger, templatesDir: CATALOG });

    // Workers first, on an empty table: their start-up reconcile is not part of the measurement.
    if (PROCESSES > 0) {
      for (let i = 0; i < PROCESSES; i++) children.push(await startWorkerProcess(bench.url, prefix));
    } else {
      workers = await startWorkers({ database, jobs, secrets: createSecretBox(SECRET_KEY), close: async () => {} }, core, logger, { timerBatch: BATCH, timerTransactions: TRANSACTIONS });
    }

    // The prototype case, through the command path; its own timer is set aside.
    const opened = await core.runner.run({
      template: { key: 'bench-timer-case' },
      command: { type: 'case.open', input: { title: 'timer bench', ownerId: 'bench' } },
      actor: { id: 'bench', role: 'agent' },
      respond: ({ case: c }) => ({ statusCode: 201, body: { id: c.id } }),
    });
    const protoCase = (opened.body as { id: string }).id;
    const protoTimer = await database.db.selectFrom('timers').select(['id', 'kind']).where('case_id', '=', protoCase).executeTakeFirstOrThrow();
    await database.db.updateTable('timers').set({ status: 'cancelled' }).where('id', '=', protoTimer.id).execute();
    const protoVersion = (await database.db.selectFrom('cases').select('version').where('id', '=', protoCase).executeTakeFirstOrThrow()).version;

    // Bulk copies: same state with its own case id and timer id (both random UUIDs, safe to replace).
    const columns = (
      await sql<{ column_name: string }>`
        select column_name from information_schema.columns where table_name = 'cases' and table_schema = current_schema() order by ordinal_position`.execute(database.db)
    ).rows.map((r) => r.column_name);
    const selectList = sql.join(
      columns.map((c) =>
        c === 'id'
          ? sql`src.case_id`
          : c === 'state'
            ? sql`replace(replace(p.state::text, ${protoCase}, src.case_id), ${protoTimer.id}, src.timer_id)::jsonb`
            : sql`p.${sql.ref(c)}`,
      ),
    );
    const insertStarted = performance.now();
    for (let done = 0; done < TOTAL; done += CLONE_BATCH) {
      const n = Math.min(CLONE_BATCH, TOTAL - done);
      const caseIds = Array.from({ length: n }, () => randomUUID());
      const timerIds = Array.from({ length: n }, () => randomUUID());
      await database.db.transaction().execute(async (trx) => {
        await sql`
          with src as (select unnest(${caseIds}::text[]) as case_id, unnest(${timerIds}::text[]) as timer_id)
          insert into cases (${sql.join(columns.map((c) => sql.ref(c)))})
          select ${selectList} from src cross join cases p where p.id = ${protoCase}`.execute(trx);
        await sql`
          with src as (select unnest(${caseIds}::text[]) as case_id, unnest(${timerIds}::text[]) as timer_id)
          insert into timers (id, case_id, kind, fragment_id, goal_key, due_at, event, status)
          select src.timer_id, src.case_id, t.kind, t.fragment_id, t.goal_key, 'infinity'::timestamptz, t.event, 'pending'
          from src cross join timers t where t.id = ${protoTimer.id}`.execute(trx);
      });
    }
    const insertS = (performance.now() - insertStarted) / 1000;
    console.log(`inserted ${TOTAL} cases and timer rows (${WARMUP} of them warm-up) in ${round(insertS, 1)} s`);

    // Spread the due times evenly: the warm-up over the WARMUP_S before the window, the measured
    // timers over the window, which starts LEAD_S + WARMUP_S from now.
    const windowStart = new Date(Date.now() + (LEAD_S + (WARMUP > 0 ? WARMUP_S : 0)) * 1000);
    await sql`
      update timers t set due_at = case
          when r.n < ${WARMUP} then ${windowStart.toISOString()}::timestamptz - ${WARMUP_S * 1000}::float8 * interval '1 millisecond'
            + (r.n * ${WARMUP > 0 ? (WARMUP_S * 1000) / WARMUP : 0}::float8) * interval '1 millisecond'
          else ${windowStart.toISOString()}::timestamptz + ((r.n - ${WARMUP}) * ${(WINDOW_S * 1000) / TIMERS}::float8) * interval '1 millisecond'
        end
      from (select id, row_number() over (order by id) - 1 as n from timers where status = 'pending') r
      where t.id = r.id`.execute(database.db);
    await sql`analyze timers`.execute(database.db);

    // Arm through the relay: the reconciler hands every pending row to BullMQ (job id = row id).
    const armStarted = performance.now();
    const armed = await core.relay.reconcile();
    const armS = (performance.now() - armStarted) / 1000;
    const armedBeforeDue = Date.now() < windowStart.getTime() - (WARMUP > 0 ? WARMUP_S * 1000 : 0);
    if (armed !== TOTAL) console.log(`the relay armed ${armed} jobs for ${TOTAL} pending timers`);
    console.log(`armed ${armed} timers in ${round(armS, 1)} s (${round(armed / armS)} /s)${armedBeforeDue ? '' : ' — arming ran into the window; raise BENCH_LEAD_S'}`);

    // CPU spent firing, per timer: steadier than throughput on a machine shared with other work.
    const cpuBefore = { node: process.cpuUsage(), postgres: await postgresCpuMs(database.db) };
    const profiler = PROFILE_TO ? await startProfiler() : undefined;

    // Wait for the window and the drain; report progress.
    const deadline = windowStart.getTime() + (WINDOW_S + DRAIN_S) * 1000;
    let pending = TIMERS;
    while (Date.now() < deadline) {
      await sleep(5_000);
      const row = await sql<{ pending: number; due: number }>`
        select count(*) filter (where status = 'pending')::int as pending,
               count(*) filter (where status = 'pending' and due_at <= now())::int as due
        from timers where id <> ${protoTimer.id} and due_at >= ${windowStart.toISOString()}::timestamptz`.execute(database.db);
      pending = row.rows[0]!.pending;
      console.log(`t=${round((Date.now() - windowStart.getTime()) / 1000, 0)} s  fired ${TIMERS - pending}  pending ${pending} (overdue ${row.rows[0]!.due})`);
      if (pending === 0) break;
    }

    const nodeCpu = process.cpuUsage(cpuBefore.node);
    if (profiler && PROFILE_TO) {
      await writeFile(PROFILE_TO, JSON.stringify(await profiler.stop()));
      console.log(`CPU profile of the firing phase written to ${PROFILE_TO}`);
    }
    const postgresCpu = subtractCpu(await postgresCpuMs(database.db), cpuBefore.postgres);
    const stats = await sql<{ fired: number; p50: number; p99: number; max: number; first_due: Date; first: Date; last: Date }>`
      select count(*)::int as fired,
             percentile_cont(0.5) within group (order by extract(epoch from settled_at - due_at) * 1000) as p50,
             percentile_cont(0.99) within group (order by extract(epoch from settled_at - due_at) * 1000) as p99,
             max(extract(epoch from settled_at - due_at) * 1000)::float8 as max,
             min(due_at) as first_due, min(settled_at) as first, max(settled_at) as last
      from timers where status = 'fired' and id <> ${protoTimer.id} and due_at >= ${windowStart.toISOString()}::timestamptz`.execute(database.db);
    const s = stats.rows[0]!;
    const warm = await sql<{ fired: number }>`
      select count(*)::int as fired from timers
      where status = 'fired' and id <> ${protoTimer.id} and due_at < ${windowStart.toISOString()}::timestamptz`.execute(database.db);
    const warmFired = warm.rows[0]!.fired;
    const check = await sql<{ advanced: number; wrong: number; journaled: number }>`
      select count(*) filter (where version = ${protoVersion + 1})::int as advanced,
             count(*) filter (where version > ${protoVersion + 1})::int as wrong,
             (select count(*)::int from journal where type = 'timer.fired') as journaled
      from cases where id <> ${protoCase}`.execute(database.db);
    const c = check.rows[0]!;
    const lost = TIMERS - s.fired + (WARMUP - warmFired);
    const spanS = (new Date(s.last).getTime() - new Date(s.first).getTime()) / 1000;
    const appliedPerS = spanS > 0 ? s.fired / spanS : s.fired;
    console.log(
      `fired ${s.fired}/${TIMERS}; lateness p50 ${round(Number(s.p50))} ms, p99 ${round(Number(s.p99))} ms, max ${round(Number(s.max))} ms; ` +
        `${round(appliedPerS)} applied/s over ${round(spanS, 1)} s; cases advanced once ${c.advanced}, more than once ${c.wrong}, journaled firings ${c.journaled}`,
    );
    if (c.wrong > 0 || c.journaled !== s.fired + warmFired || c.advanced !== s.fired + warmFired) throw new Error('a timer was applied twice or not journaled');

    console.log(
      JSON.stringify({
        bench: 'timers',
        timers: TIMERS,
        window_s: WINDOW_S,
        warmup_timers: WARMUP,
        workers: PROCESSES > 0 ? `${PROCESSES} processes` : 'in-process',
        batch: BATCH,
        transactions: TRANSACTIONS,
        pool: POOL,
        arm_per_s: round(armed / armS),
        lateness_p50_ms: round(Number(s.p50)),
        lateness_p99_ms: round(Number(s.p99)),
        lateness_max_ms: round(Number(s.max)),
        applied_per_s: round(appliedPerS),
        // Worker processes' own CPU is not counted when BENCH_PROCESSES > 0.
        node_cpu_ms_per_timer: PROCESSES > 0 ? null : round((nodeCpu.user + nodeCpu.system) / 1000 / Math.max(1, s.fired + warmFired), 3),
        postgres_cpu_ms_per_timer: postgresCpu === undefined ? null : round(postgresCpu / Math.max(1, s.fired + warmFired), 3),
        lost,
      }),
    );
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)))));
    await workers?.close();
    await jobs.close();
    await database.close();
    await deleteRedisPrefix(REDIS_URL, prefix);
    await bench.drop();
  }
}

async function startProfiler() {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      return profile;
    },
  };
}

/**
 * CPU time (ms) of every Postgres backend connected to the bench database, by pid, read from
 * /proc (Linux, same host); undefined where that is not possible.
 */
async function postgresCpuMs(db: Kysely<any>): Promise<Map<number, number> | undefined> {
  try {
    const pids = await sql<{ pid: number }>`select pid from pg_stat_activity where datname = current_database()`.execute(db);
    const ticksPerMs = 100 / 1000; // USER_HZ is 100 on Linux
    const cpu = new Map<number, number>();
    for (const { pid } of pids.rows) {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
      if (stat === undefined) return undefined;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpu.set(pid, (Number(fields[11]) + Number(fields[12])) / ticksPerMs);
    }
    return cpu;
  } catch {
    return undefined;
  }
}

function subtractCpu(after: Map<number, number> | undefined, before: Map<number, number> | undefined): number | undefined {
  if (!after || !before) return undefined;
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}

/** A `TESSERA_ROLE=worker` process on the bench database and prefix; resolves once it takes jobs. */
async function startWorkerProcess(databaseUrl: string, prefix: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--max-semi-space-size=64', '--import', 'tsx', path.join(ROOT, 'src/server.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      TESSERA_ROLE: 'worker',
      DATABASE_URL: databaseUrl,
      REDIS_URL: REDIS_URL,
      TESSERA_REDIS_PREFIX: prefix,
      TESSERA_TEMPLATES_DIR: CATALOG,
      TESSERA_MIGRATE_ON_START: 'false',
      TESSERA_SECRET_KEY: SECRET_KEY.toString('base64'),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('workers started')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}:\n${out}`)));
  });
  return child;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
