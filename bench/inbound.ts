/**
 * Inbound apply benchmark, queue mode: `src/server.ts` spawned twice on 127.0.0.1
 * (TESSERA_ROLE=api and =worker, a throwaway database and Redis prefix, the bench catalog), signed
 * Standard Webhooks posted to the API, applied by the worker — and, in the same run, the engine
 * driving the same command directly (as bench/engine.ts does), for the ratio applied / engine.
 *
 * The messages are case rows: BENCH_CASES (default 1,000) bench-case cases with an external
 * reference `account`; each message (`{type: 'note', data: {account, n}}`) goes to a random
 * account and the source's mapping sends its case the event NOTE {n} — what the engine's event
 * command does. BENCH_DUPLICATES (2%) of the sends repeat an earlier message (a sender's retry).
 *
 *   npm run bench:inbound
 *   BENCH_WEBHOOKS=3000 BENCH_CONCURRENCY=32 npm run bench:inbound
 *   BENCH_APPLY_AFTER=1 npm run bench:inbound   (the worker starts after the accept phase: apply capacity alone)
 *
 * Order of a run: engine round, webhooks (accept while the worker applies, then drain), engine
 * round — so the machine's load hits both alike. The engine rounds run in this process on the
 * same database and cases at the same concurrency (BENCH_CONCURRENCY, default 32): once without
 * an idempotency key (bench/engine.ts's command) and once with one (what an inbox row's command
 * also stores); the ratio uses the best plain round (the stricter one).
 * Reported: accepted/s (first-time 202s) and accept latency p50/p99; applied/s (rows applied over
 * first receipt -> last application) and accept -> applied p50/p99; `lost` (202s without a row,
 * rows left unapplied); `doubled` (a message applied more than once to its case); the engine's
 * events/s; applied / engine; the load average. The last line is one JSON object.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { assembleCore } from '../src/core.js';
import { migrateToLatest } from '../src/persistence/migrate.js';
import { openDatabase } from '../src/platform/database.js';
import { createInProcessJobQueue } from '../src/platform/in-process-job-queue.js';
import { cpuSeconds, createBenchDatabase, deleteRedisPrefix, percentile, round, runClosedLoop, type RunResult, spawnServer, type ServerProc } from './support.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const SERVER_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const WEBHOOKS = Number(process.env.BENCH_WEBHOOKS ?? 20_000);
const CASES = Number(process.env.BENCH_CASES ?? 1_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const ENGINE_EVENTS = Number(process.env.BENCH_ENGINE_EVENTS ?? 5_000);
const DUPLICATES = Number(process.env.BENCH_DUPLICATES ?? 0.02);
const APPLY_AFTER = process.env.BENCH_APPLY_AFTER === '1';
const DRAIN_S = Number(process.env.BENCH_DRAIN_S ?? 600);
/** Node flags for both servers (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`). */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
const ADMIN_KEY = randomBytes(24).toString('hex');
const logger = pino({ level: 'warn' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const MAPPING = {
  rules: [
    {
      name: 'account notes',
      when: "type = 'note'",
      correlate: { by: 'external_ref', ref: 'account', value: 'data.account' },
      event: { type: 'NOTE', data: '{ "n": data.n }' },
    },
  ],
};

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function post(base: URL, pathname: string, headers: Record<string, string>, data: string): Promise<{ status: number; replayed: boolean; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: base.hostname, port: base.port, path: pathname, method: 'POST', agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(data)) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, replayed: res.headers['idempotent-replayed'] === 'true', body: text }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

const loadAverage = () => os.loadavg().map((l) => round(l, 2));

/** CPU seconds so far of each part of the run (cpuSeconds); `procs` by role. */
function cpuNow(procs: Record<string, ServerProc | undefined>): Record<string, number | undefined> {
  const own = process.cpuUsage();
  const out: Record<string, number | undefined> = { bench: (own.user + own.system) / 1e6, postgres: cpuSeconds({ command: 'postgres' }), redis: cpuSeconds({ command: 'redis-server' }) };
  for (const [role, p] of Object.entries(procs)) out[role] = p?.child.pid === undefined ? undefined : cpuSeconds({ pid: p.child.pid });
  return out;
}

/** CPU milliseconds per message of each part between two cpuNow readings. */
function cpuPerMessage(before: Record<string, number | undefined>, after: Record<string, number | undefined>, messages: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [part, end] of Object.entries(after)) {
    const start = before[part];
    if (end !== undefined && start !== undefined && messages > 0) out[part] = round(((end - start) * 1000) / messages, 3);
  }
  return out;
}
const showCpu = (c: Record<string, number>) => Object.entries(c).map(([part, ms]) => `${part} ${ms}`).join(', ');
const show = (r: RunResult) => `${round(r.perSecond)}/s (p50 ${round(r.p50Ms, 1)} ms, p99 ${round(r.p99Ms, 1)} ms)`;

async function main() {
  const bench = await createBenchDatabase(SERVER_URL);
  const prefix = `tessera-bench-inbound-${randomBytes(4).toString('hex')}`;
  const database = await openDatabase({ databaseUrl: bench.url, dataDir: '/nonexistent', poolSize: 16 });
  const jobs = createInProcessJobQueue({ logger });
  const procs: ServerProc[] = [];
  try {
    await migrateToLatest(database.db);
    const db = database.db;
    // The engine as bench/engine.ts drives it (group commit, the default against Postgres).
    const core = await assembleCore({ database, jobs, logger, templatesDir: path.join(ROOT, 'bench/catalog') });
    const actor = { id: 'bench', role: 'agent' as const };
    const caseIds: string[] = [];
    await runClosedLoop(8, CASES, async (i) => {
      const response = await core.runner.run({
        template: { key: 'bench-case' },
        command: { type: 'case.open', input: { title: `account ${i}`, ownerId: 'bench', externalRefs: { account: `acct-${i}` } } },
        actor,
        respond: ({ case: c }) => ({ statusCode: 201, body: { id: c.id } }),
      });
      caseIds.push((response.body as { id: string }).id);
    });
    let n = 0;
    const engineOp = (keyed: boolean) => async () => {
      const event = { type: 'NOTE', data: { n: n++ } };
      await core.runner.run({
        caseId: caseIds[Math.floor(Math.random() * caseIds.length)]!,
        command: { type: 'event.send', event },
        actor,
        ...(keyed ? { idempotency: { owner: 'bench', key: randomUUID(), requestHash: 'bench' } } : {}),
        respond: ({ case: c }) => ({ statusCode: 200, body: { version: c.version } }),
      });
    };
    const engineRounds: RunResult[] = [];
    const keyedRounds: RunResult[] = [];
    const engineRound = async () => {
      engineRounds.push(await runClosedLoop(CONCURRENCY, ENGINE_EVENTS, engineOp(false)));
      keyedRounds.push(await runClosedLoop(CONCURRENCY, ENGINE_EVENTS, engineOp(true)));
      console.log(`engine at c=${CONCURRENCY}: ${show(engineRounds.at(-1)!)}; with an idempotency key ${show(keyedRounds.at(-1)!)}; load average ${loadAverage().join(' ')}`);
    };
    // Warm up (JIT, pool, plan caches), not counted.
    await runClosedLoop(8, 500, engineOp(false));

    const env = {
      DATABASE_URL: bench.url,
      REDIS_URL,
      TESSERA_REDIS_PREFIX: prefix,
      TESSERA_ADMIN_KEY: ADMIN_KEY,
      TESSERA_SECRET_KEY: randomBytes(32).toString('base64'),
      TESSERA_TEMPLATES_DIR: path.join(ROOT, 'bench/catalog'),
      TESSERA_MIGRATE_ON_START: 'false',
      TESSERA_RATE_LIMIT_PER_MINUTE: '1000000',
      TESSERA_INBOUND_RATE_LIMIT_PER_MINUTE: '10000000',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    };
    const api = await spawnServer({ ...env, TESSERA_ROLE: 'api', PORT: '0', LOG_LEVEL: 'info' }, /Server listening at (http:\/\/127\.0\.0\.1:\d+)/, NODE_ARGS);
    procs.push(api);
    let worker: ServerProc | undefined;
    const startWorker = async () => procs.push((worker = await spawnServer({ ...env, TESSERA_ROLE: 'worker', PORT: '0', LOG_LEVEL: 'info' }, /workers started/, NODE_ARGS)));
    if (!APPLY_AFTER) await startWorker();
    const base = new URL(api.match[1]!);
    const created = await post(base, '/v1/inbound-sources', { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, JSON.stringify({ key: 'bench', mapping: MAPPING }));
    if (created.status !== 201) throw new Error(`creating the source: ${created.status} ${created.body}`);
    const signer = new Webhook((JSON.parse(created.body) as { secret: { secret: string } }).secret.secret);

    // The messages; a duplicate is an earlier message sent again (re-signed, as a sender's retry is).
    const messages: { id: string; body: string }[] = [];
    const sends: { id: string; body: string }[] = [];
    for (let i = 0; i < WEBHOOKS; i++) {
      if (messages.length > 0 && Math.random() < DUPLICATES) {
        sends.push(messages[Math.floor(Math.random() * messages.length)]!);
        continue;
      }
      const m = { id: `msg_${randomUUID()}`, body: JSON.stringify({ type: 'note', data: { account: `acct-${Math.floor(Math.random() * CASES)}`, n: i } }) };
      messages.push(m);
      sends.push(m);
    }
    await engineRound();

    console.log(`${messages.length} messages (${sends.length - messages.length} duplicate sends) over ${CASES} cases at concurrency ${CONCURRENCY}, apply ${APPLY_AFTER ? 'after' : 'during'} the accept phase; load average ${loadAverage().join(' ')}`);
    const latencies: number[] = [];
    const accepted = new Set<string>();
    let replayed = 0;
    let refused = 0;
    let firstRefusal = '';
    let next = 0;
    const acceptCpuStart = cpuNow({ api, worker });
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (;;) {
          const i = next++;
          if (i >= sends.length) return;
          const m = sends[i]!;
          const t0 = performance.now();
          // Signed at send time, as a sender does (a long run outlasts the 5-minute window).
          const now = new Date();
          const headers = { 'content-type': 'application/json', 'webhook-id': m.id, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': signer.sign(m.id, now, m.body) };
          const res = await post(base, '/v1/inbound/bench', headers, m.body);
          latencies.push(performance.now() - t0);
          if (res.status !== 202) {
            refused++;
            firstRefusal ||= `${res.status} ${res.body.slice(0, 300)}`;
          } else if (res.replayed) replayed++;
          else accepted.add((JSON.parse(res.body) as { id: string }).id);
        }
      }),
    );
    const acceptSeconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const acceptLoad = loadAverage();
    const acceptCpu = cpuPerMessage(acceptCpuStart, cpuNow({ api, worker }), accepted.size);
    console.log(
      `accepted ${accepted.size} in ${round(acceptSeconds)} s: ${round(accepted.size / acceptSeconds)}/s (p50 ${round(percentile(latencies, 50), 1)} ms, p99 ${round(percentile(latencies, 99), 1)} ms); ` +
        `${replayed} duplicates answered as the first time, ${refused} refused${firstRefusal ? ` (first: ${firstRefusal})` : ''}; load average ${acceptLoad.join(' ')}`,
    );
    console.log(`CPU ms per accepted message: ${showCpu(acceptCpu)}`);

    if (APPLY_AFTER) await startWorker();
    const drainCpuStart = cpuNow({ api, worker });
    const deadline = Date.now() + DRAIN_S * 1000;
    for (;;) {
      const pending = await db.selectFrom('inbox').select(sql<number>`count(*)::int`.as('n')).where('status', '=', 'received').executeTakeFirstOrThrow();
      if (pending.n === 0 || Date.now() > deadline) break;
      await sleep(200);
    }
    const drainLoad = loadAverage();
    const drainCpuEnd = cpuNow({ api, worker });
    const outcome = await sql<{ status: string; n: number; p50: number | null; p99: number | null; first_received: Date; first_applied: Date | null; last_applied: Date | null }>`
      select status, count(*)::int as n,
             percentile_cont(0.5) within group (order by extract(epoch from applied_at - received_at) * 1000) as p50,
             percentile_cont(0.99) within group (order by extract(epoch from applied_at - received_at) * 1000) as p99,
             min(received_at) as first_received, min(applied_at) as first_applied, max(applied_at) as last_applied
      from inbox group by status`.execute(db);
    const byStatus = Object.fromEntries(outcome.rows.map((r) => [r.status, r]));
    const applied = byStatus['applied'];
    // During: from the first receipt (the worker is running); after: from the first application (the worker started then).
    const from = APPLY_AFTER ? applied?.first_applied : applied?.first_received;
    const appliedSeconds = applied?.last_applied && from ? (new Date(applied.last_applied).getTime() - new Date(from).getTime()) / 1000 : 0;
    const appliedPerSecond = (applied?.n ?? 0) / Math.max(appliedSeconds, 0.001);
    // Apply after the accept phase: what applying alone costs per row (during: accept and apply mixed).
    const drainCpu = cpuPerMessage(drainCpuStart, drainCpuEnd, applied?.n ?? 0);
    const rowIds = new Set((await db.selectFrom('inbox').select('id').execute()).map((r) => r.id));
    const lost = [...accepted].filter((id) => !rowIds.has(id)).length + (byStatus['received']?.n ?? 0);
    // Exactly once: each message's n reached its case once.
    const effects = await sql<{ events: number; distinct_n: number }>`
      select count(*)::int as events, count(distinct data->'data'->>'n')::int as distinct_n
      from journal where type = 'event.received' and actor_id = 'inbound:bench'`.execute(db);
    const { events, distinct_n } = effects.rows[0]!;
    const doubled = events - distinct_n;
    const failures = await sql<{ code: string | null; n: number }>`select error->>'code' as code, count(*)::int as n from inbox where status = 'failed' group by 1`.execute(db);
    if (failures.rows.length > 0) console.log(`failed rows by reason: ${failures.rows.map((r) => `${r.code} ${r.n}`).join(', ')}`);
    console.log(
      `applied ${applied?.n ?? 0} (${Object.entries(byStatus).map(([s, r]) => `${s} ${r.n}`).join(', ')}) at ${round(appliedPerSecond)}/s; ` +
        `accept -> applied p50 ${round(applied?.p50 ?? 0)} ms, p99 ${round(applied?.p99 ?? 0)} ms; lost ${lost}, doubled ${doubled} (${events} events for ${messages.length} messages); load average ${drainLoad.join(' ')}`,
    );
    console.log(`CPU ms per applied row${APPLY_AFTER ? '' : ' (accept still running for part of it)'}: ${showCpu(drainCpu)}`);

    await engineRound();
    const best = (runs: RunResult[]) => Math.max(...runs.map((r) => r.perSecond));
    const engine = best(engineRounds);
    const keyed = best(keyedRounds);
    console.log(`applied / engine ${round(appliedPerSecond / engine, 3)} (goal ≥ 0.7); with an idempotency key on the engine's command ${round(appliedPerSecond / keyed, 3)}; accepted ${round(accepted.size / acceptSeconds)}/s (goal ≥ 1000)`);
    console.log(
      JSON.stringify({
        bench: 'inbound',
        apply: APPLY_AFTER ? 'after_accept' : 'during_accept',
        webhooks_sent: sends.length,
        cases: CASES,
        concurrency: CONCURRENCY,
        accepted: accepted.size,
        accepted_per_s: round(accepted.size / acceptSeconds),
        accept_p50_ms: round(percentile(latencies, 50), 2),
        accept_p99_ms: round(percentile(latencies, 99), 2),
        duplicates_answered: replayed,
        refused,
        applied: applied?.n ?? 0,
        applied_per_s: round(appliedPerSecond),
        applied_p50_ms: round(applied?.p50 ?? 0),
        applied_p99_ms: round(applied?.p99 ?? 0),
        unmatched: byStatus['unmatched']?.n ?? 0,
        failed: byStatus['failed']?.n ?? 0,
        failed_by_reason: Object.fromEntries(failures.rows.map((r) => [r.code ?? 'unknown', r.n])),
        lost,
        doubled,
        engine_per_s: round(engine),
        engine_rounds_per_s: engineRounds.map((r) => round(r.perSecond)),
        engine_idempotent_per_s: round(keyed),
        ratio_applied_engine: round(appliedPerSecond / engine, 3),
        ratio_applied_engine_idempotent: round(appliedPerSecond / keyed, 3),
        cpu_ms_per_accepted: acceptCpu,
        cpu_ms_per_applied: drainCpu,
        load_average_accept: acceptLoad,
        load_average_drain: drainLoad,
        load_average_end: loadAverage(),
      }),
    );
  } finally {
    agent.destroy();
    for (const p of procs.reverse()) await p.stop();
    await jobs.close();
    await database.close();
    await deleteRedisPrefix(REDIS_URL, prefix).catch(() => 0);
    await bench.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
