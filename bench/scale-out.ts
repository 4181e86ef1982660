/**
 * `npm run bench:scale`: does throughput hold when processes are added? The same mixed load
 * (commands + their timers + outbound deliveries + signed inbound webhooks; test/support/
 * load-cluster.ts), closed loop at a fixed concurrency, against 1 API + 1 worker and then 2 API + 2
 * worker processes (TESSERA_ROLE), each on a fresh database of the local Postgres and its own Redis
 * prefix. Per shape: acknowledged writes/s over the load window, the time to drain the backlog
 * (timers, inbox, deliveries) after it, end-to-end work/s (writes and their timers and deliveries
 * all settled), and the ledger (0 lost, 0 doubled). Last line: one JSON object.
 *
 *   npm run bench:scale
 *   BENCH_SCALE_S=20 BENCH_SCALE_LOOPS=8 npm run bench:scale
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { migrateToLatest } from '../src/persistence/migrate.js';
import { openDatabase } from '../src/platform/database.js';
import { audit, clean, drain, MixedLoad, retryFailedInbox, setupTenant, sleep, startReceiver, startTessera, type TesseraProcess } from '../test/support/load-cluster.js';
import { createBenchDatabase, deleteRedisPrefix, round } from './support.js';

const SERVER_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const LOAD_S = Number(process.env.BENCH_SCALE_S ?? 15);
const LOOPS = Number(process.env.BENCH_SCALE_LOOPS ?? 8);
/** Shapes alternate (1+1, 2+2, 1+1, 2+2 ...) so a neighbour's load drifting over the run hits both. */
const ROUNDS = Number(process.env.BENCH_SCALE_ROUNDS ?? 2);

async function measure(apis: number, workers: number) {
  const bench = await createBenchDatabase(SERVER_URL);
  const prefix = `tessera-bench-scale-${randomBytes(3).toString('hex')}`;
  const receiver = await startReceiver();
  const processes: TesseraProcess[] = [];
  try {
    const migrator = await openDatabase({ databaseUrl: bench.url, dataDir: '/nonexistent', poolSize: 1 });
    await migrateToLatest(migrator.db);
    await migrator.close();
    // LOG_LEVEL=info: the start lines the harness waits for.
    const env = { databaseUrl: bench.url, redisUrl: REDIS_URL, prefix, extra: { LOG_LEVEL: 'info' } };
    const roles = [...Array(apis).fill('api'), ...Array(workers).fill('worker')] as ('api' | 'worker')[];
    for (const [i, role] of roles.entries()) processes.push(await startTessera(role, `${role}-${i}`, env));
    const urls = processes.filter((p) => p.role === 'api').map((p) => p.baseUrl!);
    const tenant = await setupTenant(urls[0]!, receiver);
    // Commands and inbound in a 3:1 mix over LOOPS connections.
    const inboundLoops = Math.max(1, Math.round(LOOPS / 4));
    const load = new MixedLoad({ apis: () => urls, tenant, commandLoops: LOOPS - inboundLoops, inboundLoops, label: `s${apis}${workers}` });
    const loadAvgBefore = os.loadavg()[0]!;
    const t0 = Date.now();
    load.start();
    await sleep(LOAD_S * 1000);
    await load.stop();
    const loadSeconds = (Date.now() - t0) / 1000;
    const counts = load.counts();
    const settled = await load.settleRefused(60_000);
    let drained = await drain(bench.url, 300_000);
    // Rows the mapping's 1 s bound stopped on a starved CPU are kept with their error: retried as an operator would.
    const inboxRetried = await retryFailedInbox(bench.url, urls[0]!);
    if (inboxRetried > 0) drained = await drain(bench.url, 300_000);
    const totalSeconds = (Date.now() - t0) / 1000;
    const ledger = await audit(bench.url, load, receiver);
    const writes = counts.commandsAcknowledged + counts.inboundAcknowledged;
    return {
      shape: `${apis} api + ${workers} worker`,
      writes,
      writes_per_s: round(writes / loadSeconds),
      drain_s: round(totalSeconds - loadSeconds),
      // Each write is a case: its command (or inbound apply), its timer, and two deliveries.
      settled_work_per_s: round((ledger.cases * 4) / totalSeconds),
      cases: ledger.cases,
      deliveries: ledger.deliveriesDelivered,
      refused_then_resent: settled.retried,
      inbox_retried: inboxRetried,
      ...(clean(ledger) ? {} : { ledger }),
      drained,
      clean: clean(ledger),
      load_average_before: round(loadAvgBefore, 2),
      load_average_after: round(os.loadavg()[0]!, 2),
    };
  } finally {
    await Promise.all(processes.map((p) => p.stop().catch(() => {})));
    await receiver.close();
    await deleteRedisPrefix(REDIS_URL, prefix);
    await bench.drop();
  }
}

async function main() {
  const results: Awaited<ReturnType<typeof measure>>[] = [];
  const shapes = Array.from({ length: ROUNDS }, () => [[1, 1], [2, 2]] as const).flat();
  for (const [apis, workers] of shapes) {
    const r = await measure(apis, workers);
    results.push(r);
    console.log(
      `${r.shape.padEnd(18)} ${r.writes} writes in ${LOAD_S} s: ${r.writes_per_s}/s acknowledged; drained ${r.drain_s} s later; ` +
        `${r.settled_work_per_s} settled work items/s (write + timer + 2 deliveries per case); ${r.clean ? '0 lost, 0 doubled' : 'LEDGER MISMATCH'}; load ${r.load_average_before} -> ${r.load_average_after}`,
    );
  }
  const mean = (shape: string, key: 'writes_per_s' | 'settled_work_per_s') => {
    const of = results.filter((r) => r.shape === shape);
    return of.reduce((a, r) => a + r[key], 0) / of.length;
  };
  const ratioWrites = round(mean('2 api + 2 worker', 'writes_per_s') / mean('1 api + 1 worker', 'writes_per_s'), 2);
  const ratioSettled = round(mean('2 api + 2 worker', 'settled_work_per_s') / mean('1 api + 1 worker', 'settled_work_per_s'), 2);
  console.log(`2+2 / 1+1 (means over ${ROUNDS} rounds): acknowledged writes/s x${ratioWrites}, settled work/s x${ratioSettled}`);
  console.log(JSON.stringify({ load_s: LOAD_S, loops: LOOPS, rounds: ROUNDS, cpus: os.cpus().length, results, ratio_writes: ratioWrites, ratio_settled: ratioSettled }));
  process.exit(results.every((r) => r.clean && r.drained) ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
