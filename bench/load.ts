/**
 * Open-loop load test: event commands at a fixed arrival rate, stepped until the knee, against a
 * server in queue mode with separate API and worker processes (`src/server.ts` spawned twice on
 * 127.0.0.1, TESSERA_ROLE=api and =worker, a throwaway database and Redis prefix).
 *
 * Open loop means each request has an intended send time (start + i / rate) and is sent then,
 * whether or not earlier ones have answered; its latency is measured from that intended time. A
 * server that stalls for 40 ms delays every request that should have gone out meanwhile, and they
 * all count — the closed-loop benches (and autocannon) would just send less and hide it.
 *
 *   npm run load
 *   LOAD_RATES=100,200,400,600,800 LOAD_STEP_S=10 npm run load
 *   LOAD_MAX_RATE=2000 npm run load  (after the last rate it steps on by a quarter while a step
 *                                     holds, up to this rate; default 4,000/s, or no step past
 *                                     LOAD_RATES when those are given)
 *   LOAD_POSTGRES=tmpfs npm run load  (the same against a private cluster whose WAL is in memory)
 *
 * Per step it prints offered/s, achieved/s (2xx per second of the step), p50/p99/p99.9 ms and
 * errors; then the knee (the highest rate that achieved ≥ 95% of the offer with p99 under
 * LOAD_KNEE_P99_MS, default 250 ms), a step at half the knee with its p99 (goal < 25 ms), and the
 * stall finder: the requests slower than LOAD_SLOW_MS (default 20 ms) grouped into bursts, with
 * the intervals between bursts (a period says "timer", scattered says "load"), the period they
 * recur at, and whether it is the sampling interval of the kernel's DAMON monitor, with the CPU
 * that monitor used during the steps, and how many bursts a stuck flush of the database's disk
 * overlaps (a file beside its data directory flushed 50 times a second; machine-stalls.ts). The
 * last line is one JSON object.
 * LOAD_API_ARGS adds node flags to the API process (e.g. `--trace-gc`), and LOAD_API_OUTPUT=file
 * keeps the tail of the API's output (logs, GC traces) there at the end.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { migrateToLatest } from '../src/persistence/migrate.js';
import { openDatabase } from '../src/platform/database.js';
import { burstsOnStalls, cpuMsOf, damonBehind, readDamonMonitors, recurringPeriod, startFlushProbe, type FlushProbe } from './machine-stalls.js';
import { createBenchDatabase, deleteRedisPrefix, percentile, round, spawnServer, type ServerProc } from './support.js';
import { startPrivatePostgres } from '../test/support/private-postgres.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const SERVER_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CASES = Number(process.env.LOAD_CASES ?? 500);
const RATES = (process.env.LOAD_RATES ?? '100,200,300,400,500,600,700,800,1000,1200').split(',').map(Number);
const STEP_S = Number(process.env.LOAD_STEP_S ?? 10);
/** Listed rates are run as listed; the default ladder steps on past its last rate up to 4,000/s. */
const MAX_RATE = Number(process.env.LOAD_MAX_RATE ?? (process.env.LOAD_RATES ? Math.max(...RATES) : 4_000));
const KNEE_P99_MS = Number(process.env.LOAD_KNEE_P99_MS ?? 250);
const SLOW_MS = Number(process.env.LOAD_SLOW_MS ?? 20);
const API_ARGS = (process.env.LOAD_API_ARGS ?? '').split(' ').filter(Boolean);
const ADMIN_KEY = randomBytes(24).toString('hex');

const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });

function post(base: URL, pathname: string, body: unknown): Promise<{ status: number; body: string }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: base.hostname, port: base.port, path: pathname, method: 'POST', agent, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

interface Sample {
  /** Intended send time, ms since the step started. */
  at: number;
  latencyMs: number;
  ok: boolean;
}

interface Step {
  offered: number;
  achieved: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  errors: number;
  /** Postgres sessions the servers opened during the step (pool churn: each pays connect + cold caches). */
  backendsOpened: number;
  /** performance.now() when the step began: samples' `at` count from it. */
  start: number;
  samples: Sample[];
}

/** Sessions established to the bench database so far (pg_stat_database.sessions, PostgreSQL 14+). */
let countBackends: () => Promise<number> = async () => 0;

/** Sends `rate` events/s for `seconds` on schedule; waits for the stragglers (up to 30 s). */
async function step(base: URL, caseIds: string[], rate: number, seconds: number): Promise<Step> {
  const total = Math.round(rate * seconds);
  const samples: Sample[] = [];
  const pending: Promise<void>[] = [];
  let errors = 0;
  let firstError = '';
  const sessionsBefore = await countBackends();
  const start = performance.now();
  let sent = 0;
  await new Promise<void>((done) => {
    const tick = () => {
      const now = performance.now();
      // Every request whose intended time has come goes out now, however late the tick is.
      while (sent < total && start + (sent * 1000) / rate <= now) {
        const intended = (sent * 1000) / rate;
        const caseId = caseIds[sent % caseIds.length]!;
        const n = sent;
        sent += 1;
        pending.push(
          post(base, `/v1/cases/${caseId}/events`, { type: 'NOTE', data: { n } }).then(
            (res) => {
              const ok = res.status >= 200 && res.status < 300;
              if (!ok) {
                errors += 1;
                firstError ||= `${res.status} ${res.body.slice(0, 300)}`;
              }
              samples.push({ at: intended, latencyMs: performance.now() - start - intended, ok });
            },
            (err: Error) => {
              errors += 1;
              firstError ||= err.message;
              samples.push({ at: intended, latencyMs: performance.now() - start - intended, ok: false });
            },
          ),
        );
      }
      if (sent >= total) return done();
      setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 30_000))]);
  const elapsed = Math.max(seconds, (performance.now() - start) / 1000);
  if (firstError) console.log(`  first error at ${rate}/s: ${firstError}`);
  const latencies = samples.map((s) => s.latencyMs).sort((a, b) => a - b);
  const lost = total - samples.length;
  // The statistics collector reports with a delay of up to a second.
  await new Promise((r) => setTimeout(r, 1_100));
  const backendsOpened = (await countBackends()) - sessionsBefore;
  return {
    backendsOpened,
    start,
    offered: rate,
    achieved: samples.filter((s) => s.ok).length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    p999: percentile(latencies, 99.9),
    max: latencies[latencies.length - 1] ?? 0,
    errors: errors + lost,
    samples,
  };
}

/**
 * The stall finder: slow requests (intended times) grouped into bursts 50 ms apart or less, and
 * the intervals between the bursts' starts. One stall delays every request of its window, so
 * a periodic stall shows as regular intervals.
 */
function bursts(samples: Sample[], slowMs: number) {
  const slow = samples.filter((s) => s.latencyMs > slowMs).sort((a, b) => a.at - b.at);
  const found: { at: number; count: number; worst: number }[] = [];
  let previous = -Infinity;
  for (const s of slow) {
    const last = found[found.length - 1];
    if (last && s.at - previous <= 50) {
      last.count += 1;
      last.worst = Math.max(last.worst, s.latencyMs);
    } else {
      found.push({ at: s.at, count: 1, worst: s.latencyMs });
    }
    previous = s.at;
  }
  const gaps = found.slice(1).map((b, i) => Math.round(b.at - found[i]!.at));
  return { slow: slow.length, bursts: found.map((b) => ({ at_ms: Math.round(b.at), requests: b.count, worst_ms: round(b.worst, 1) })), gaps_ms: gaps };
}

const show = (s: Step) =>
  `offered ${String(s.offered).padStart(5)}/s  achieved ${round(s.achieved).toString().padStart(7)}/s  p50 ${round(s.p50, 1).toString().padStart(6)}  p99 ${round(s.p99, 1).toString().padStart(7)}  p99.9 ${round(s.p999, 1).toString().padStart(7)}  max ${round(s.max, 0).toString().padStart(6)} ms  errors ${s.errors}  sessions opened ${s.backendsOpened}`;

/**
 * LOAD_POSTGRES=tmpfs: a private cluster in /dev/shm, configured like the shared server (its
 * memory, WAL and vacuum settings, fsync and synchronous commit on), so the same run differs from
 * the default one only in the disk under the WAL. Its flushes are memory copies: what the tail
 * latency is on a disk that never stalls.
 */
async function serverUrl(): Promise<{ url: string; stop: () => Promise<void> }> {
  if (process.env.LOAD_POSTGRES !== 'tmpfs') return { url: SERVER_URL, stop: async () => {} };
  const shared = new pg.Client({ connectionString: SERVER_URL });
  await shared.connect();
  const names = ['shared_buffers', 'wal_buffers', 'max_wal_size', 'checkpoint_timeout', 'autovacuum', 'wal_level', 'jit'];
  const { rows } = await shared.query<{ name: string; setting: string }>(
    `select name, current_setting(name) as setting from unnest($1::text[]) as name`,
    [names],
  );
  await shared.end();
  const cluster = await startPrivatePostgres({ flush: true, parentDir: '/dev/shm', options: ['max_connections=100', ...rows.map((r) => `${r.name}=${r.setting}`)] });
  console.log(`postgres: a private cluster in /dev/shm on :${cluster.port} (${rows.map((r) => `${r.name}=${r.setting}`).join(', ')}, fsync on)`);
  return { url: cluster.url(), stop: () => cluster.destroy() };
}

async function main() {
  const server = await serverUrl();
  try {
    await run(server.url);
  } finally {
    await server.stop();
  }
}

async function run(url: string) {
  const bench = await createBenchDatabase(url);
  const prefix = `tessera-bench-load-${randomBytes(4).toString('hex')}`;
  const database = await openDatabase({ databaseUrl: bench.url, dataDir: '/nonexistent', poolSize: 2 });
  const procs: ServerProc[] = [];
  try {
    await migrateToLatest(database.db);
    await database.close();
    const watcher = new pg.Client({ connectionString: bench.url });
    await watcher.connect();
    procs.push({ child: undefined as never, output: () => '', stop: () => watcher.end() });
    countBackends = async () => {
      // A fresh snapshot each time (a transaction would keep showing the first one).
      await watcher.query('select pg_stat_clear_snapshot()');
      const { rows } = await watcher.query<{ n: number }>('select sessions::int as n from pg_stat_database where datname = current_database()');
      return rows[0]!.n;
    };
    const env = {
      DATABASE_URL: bench.url,
      REDIS_URL,
      TESSERA_REDIS_PREFIX: prefix,
      TESSERA_ADMIN_KEY: ADMIN_KEY,
      TESSERA_SECRET_KEY: randomBytes(32).toString('base64'),
      TESSERA_TEMPLATES_DIR: path.join(ROOT, 'bench/catalog'),
      TESSERA_MIGRATE_ON_START: 'false',
      TESSERA_RATE_LIMIT_PER_MINUTE: '1000000',
      HOST: '127.0.0.1',
      LOG_LEVEL: process.env.LOAD_LOG_LEVEL ?? 'info',
      ...(process.env.LOAD_ENV ? Object.fromEntries(process.env.LOAD_ENV.split(',').map((kv) => kv.split('=') as [string, string])) : {}),
    };
    const api = await spawnServer({ ...env, TESSERA_ROLE: 'api', PORT: '0' }, /Server listening at (http:\/\/127\.0\.0\.1:\d+)/, API_ARGS);
    procs.push(api);
    const worker = await spawnServer({ ...env, TESSERA_ROLE: 'worker', PORT: '0' }, /workers started/);
    procs.push(worker);
    const base = new URL(api.match[1]!);
    console.log(`api ${base.href} (pid ${api.child.pid}), worker pid ${worker.child.pid}; ${CASES} cases; steps of ${STEP_S} s; load average ${os.loadavg().map((l) => round(l, 2)).join(' ')}`);

    const caseIds: string[] = [];
    for (let i = 0; i < CASES; i += 16) {
      const opened = await Promise.all(
        Array.from({ length: Math.min(16, CASES - i) }, () => post(base, '/v1/cases', { template: 'bench-case', title: 'load' })),
      );
      for (const o of opened) {
        if (o.status !== 201) throw new Error(`opening a case: ${o.status} ${o.body}`);
        caseIds.push((JSON.parse(o.body) as { id: string }).id);
      }
    }
    // Warm up (JIT, pools, plan caches), not counted.
    await step(base, caseIds, 100, 3);

    // The machine's own periodic work, measured over the steps (machine-stalls.ts).
    const damon = await readDamonMonitors();
    for (const m of damon) console.log(`machine: DAMON kdamond ${m.id} is on (pid ${m.pid ?? '?'}), sampling every ${m.sampleMs ?? '?'} ms`);
    const damonCpuBefore = await Promise.all(damon.map((m) => (m.pid ? cpuMsOf(m.pid) : undefined)));
    // And the disk: flushes of a file beside the database's data directory, all through the steps.
    const flushDir = await watcher
      .query<{ dir: string }>(`select current_setting('data_directory') as dir`)
      .then((r) => path.dirname(r.rows[0]!.dir), () => undefined);
    let flushProbe: FlushProbe | undefined;
    if (flushDir) flushProbe = await startFlushProbe(flushDir).catch((err: Error) => (console.log(`disk: no flush probe in ${flushDir} (${err.message})`), undefined));
    const stepsStarted = performance.now();

    const steps: Step[] = [];
    const isGood = (s: Step) => s.achieved >= 0.95 * s.offered && s.p99 < KNEE_P99_MS && s.errors === 0;
    // The listed rates, then on by a quarter each while the last step holds, up to LOAD_MAX_RATE:
    // the knee is found, not assumed to be the last rate listed.
    for (let i = 0, rate = RATES[0]!; rate <= MAX_RATE; i++) {
      const s = await step(base, caseIds, rate, STEP_S);
      steps.push(s);
      console.log(show(s));
      // Past the knee by far: the next step only measures a queue.
      if (s.achieved < 0.8 * rate || s.p99 > 4 * KNEE_P99_MS) break;
      if (i + 1 < RATES.length) rate = RATES[i + 1]!;
      else if (isGood(s)) rate = Math.round((rate * 1.25) / 100) * 100;
      else break;
    }
    const good = steps.filter(isGood);
    const knee = good.length > 0 ? Math.max(...good.map((s) => s.offered)) : 0;
    const kneeFound = steps.some((s) => s.offered > knee);
    console.log(
      `knee: ${knee} events/s (highest step with achieved ≥ 95% of offered, p99 < ${KNEE_P99_MS} ms, no errors)` +
        (kneeFound ? '' : ` — not reached: every step up to LOAD_MAX_RATE=${MAX_RATE} held`),
    );
    let half: Step | undefined;
    if (knee > 0) {
      half = await step(base, caseIds, Math.round(knee / 2), Math.max(STEP_S, 20));
      console.log(`half the knee: ${show(half)}  (goal p99 < 25 ms)`);
    }
    // Where the slow requests of the steps below the knee fall in time.
    const probe = half ?? steps[0]!;
    const found = bursts(probe.samples, SLOW_MS);
    console.log(
      `stall finder at ${probe.offered}/s: ${found.slow} requests over ${SLOW_MS} ms in ${found.bursts.length} bursts; intervals between bursts (ms): ${found.gaps_ms.slice(0, 40).join(' ')}`,
    );
    console.log(`worst bursts: ${JSON.stringify([...found.bursts].sort((a, b) => b.requests - a.requests).slice(0, 8))}`);
    const period = recurringPeriod(found.gaps_ms);
    const seconds = (performance.now() - stepsStarted) / 1000;
    const flushes = await flushProbe?.stop();
    const onStalls = flushes ? burstsOnStalls(found.bursts, probe.start, flushes.stalls) : undefined;
    if (flushes && onStalls) {
      console.log(
        `disk: fdatasync in ${flushDir} (the database's filesystem), ${flushes.flushes} flushes during the steps: p50 ${round(flushes.p50Ms, 2)} ms, ` +
          `max ${round(flushes.maxMs)} ms, ${flushes.stalls.length} over 20 ms`,
      );
      console.log(
        onStalls.bursts === 0
          ? `stall finder: none of the ${found.bursts.length} bursts overlaps a stuck flush`
          : `stall finder: ${onStalls.bursts} of ${found.bursts.length} bursts (${onStalls.requests} of ${found.slow} slow requests) overlap a stuck flush: ` +
              'every commit waits for its WAL flush, so every request in flight waits for the disk (README Performance)',
      );
    }
    const damonCpu = await Promise.all(
      damon.map(async (m, i) => {
        const after = m.pid ? await cpuMsOf(m.pid) : undefined;
        const before = damonCpuBefore[i];
        return { kdamond: m.id, sample_ms: m.sampleMs ?? null, cpu_ms_per_s: after !== undefined && before !== undefined ? round((after - before) / seconds, 1) : null };
      }),
    );
    for (const d of damonCpu) console.log(`machine: kdamond ${d.kdamond} used ${d.cpu_ms_per_s ?? '?'} ms of CPU per second during the steps`);
    const culprit = damonBehind(period, damon);
    console.log(
      period === undefined
        ? 'stall finder: no recurring period (slow requests are scattered: load or the disk, not a timer)'
        : culprit
          ? `stall finder: the bursts recur every ~${period} ms, DAMON kdamond ${culprit.id}'s sampling interval (${culprit.sampleMs} ms) plus its run: the machine's memory monitor, not Tessera (README Performance)`
          : `stall finder: the bursts recur every ~${period} ms; no monitor of the machine has that period`,
    );
    console.log(
      JSON.stringify({
        bench: 'load',
        cases: CASES,
        step_s: STEP_S,
        load_average: os.loadavg().map((l) => round(l, 2)),
        steps: steps.map((s) => ({ offered: s.offered, achieved: round(s.achieved), p50_ms: round(s.p50, 2), p99_ms: round(s.p99, 2), p999_ms: round(s.p999, 2), errors: s.errors, sessions_opened: s.backendsOpened })),
        knee_per_s: knee,
        knee_found: kneeFound,
        half_knee: half ? { offered: half.offered, achieved: round(half.achieved), p50_ms: round(half.p50, 2), p99_ms: round(half.p99, 2), p999_ms: round(half.p999, 2), errors: half.errors, sessions_opened: half.backendsOpened } : null,
        slow_bursts: found.bursts.length,
        burst_period_ms: period ?? null,
        damon: damonCpu,
        burst_period_is_damon: culprit !== undefined,
        disk:
          flushes && onStalls
            ? { flushes: flushes.flushes, p50_ms: round(flushes.p50Ms, 2), max_ms: round(flushes.maxMs), over_20ms: flushes.stalls.length, bursts_on_stalls: onStalls.bursts, slow_requests_on_stalls: onStalls.requests }
            : null,
      }),
    );
  } finally {
    agent.destroy();
    const api = procs[1];
    if (process.env.LOAD_API_OUTPUT && api) await writeFile(process.env.LOAD_API_OUTPUT, api.output());
    for (const p of procs.reverse()) await p.stop();
    await deleteRedisPrefix(REDIS_URL, prefix).catch(() => 0);
    await bench.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
