/**
 * `npm run chaos`: faults under load, and the ledger afterwards. Not part of CI.
 *
 * Everything it breaks is its own: a private Postgres cluster (initdb into /tmp, the server
 * binaries under /usr/lib/postgresql/<version>/bin, as the `postgres` user when run as root; never
 * the shared server on 5432), a private redis-server on another loopback port (never the shared
 * one), one API and two worker processes, a webhook receiver on 127.0.0.1.
 *
 * Under a continuous mixed load (commands and the timers they arm, signed inbound webhooks,
 * outbound deliveries to the receiver; test/support/load-cluster.ts), one after another:
 *   1. kill -9 the API process (restarted on its port a second later);
 *   2. kill -9 a worker while a batch of timers is due (restarted two seconds later);
 *   3. kill -9 Postgres (the postmaster and every backend), start it again: crash recovery;
 *   4. FLUSHALL the private Redis, then kill -9 it and start it again, empty;
 *   5. restart a worker with its clock five minutes fast (TESSERA_TEST_CLOCK_SKEW_MS, NODE_ENV=test).
 * A watcher polls the API's /ready every 100 ms: for 3 and 4 it must turn 503 and then 200 again
 * with the same API process (not restarted). Then the load stops, writes that were refused or
 * unanswered are sent again with their Idempotency-Key / webhook-id (as a client does), the
 * backlog drains, and the ledger counts acknowledged vs applied commands, inbound messages, timer
 * effects and deliveries by webhook-id: 0 lost, 0 doubled in effect. It prints a table, and one
 * JSON line last; exit 1 when anything was lost or doubled.
 *
 *   npm run chaos
 *   CHAOS_PHASE_S=8 npm run chaos      (seconds of load between faults; default 6)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { Redis } from 'ioredis';
import pg from 'pg';
import { migrateToLatest } from '../src/persistence/migrate.js';
import { openDatabase } from '../src/platform/database.js';
import { audit, backlog, clean, drain, MixedLoad, retryFailedInbox, ready, setupTenant, sleep, startReceiver, startTessera, waitUntil, type TesseraProcess } from '../test/support/load-cluster.js';
import { startPrivatePostgres, type PrivatePostgres } from '../test/support/private-postgres.js';

const PHASE_MS = Number(process.env.CHAOS_PHASE_S ?? 6) * 1000;
const SKEW_MS = 5 * 60_000;
const DRAIN_MS = Number(process.env.CHAOS_DRAIN_S ?? 300) * 1000;
const PAUSE_MS = Number(process.env.CHAOS_PAUSE_MS ?? 100);
/** Each process's log, written at the end. */
const LOG_DIR = process.env.CHAOS_LOG_DIR ?? '/tmp/tessera-chaos-logs';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// A private redis-server

interface PrivateRedis {
  url: string;
  start(): Promise<void>;
  kill(): Promise<void>;
  flushAll(): Promise<void>;
}

async function privateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const ping = async () => {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => {}); // refused while it starts: the probe answers false
    try {
      await r.connect();
      return (await r.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      r.disconnect();
    }
  };
  const redis: PrivateRedis = {
    url,
    async start() {
      // No persistence: a restart comes back empty, the worst case for the queue.
      const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      child = c;
      exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      if (!(await waitUntil(ping, 15_000, 100))) throw new Error(`private redis-server on ${port} did not answer`);
    },
    async kill() {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async flushAll() {
      const r = new Redis(url, { maxRetriesPerRequest: 1 });
      try {
        await r.flushall();
      } finally {
        r.disconnect();
      }
    },
  };
  await redis.start();
  return redis;
}

// ---------------------------------------------------------------------------------------------
// kill -9 of a whole Postgres server: the postmaster and every process it started

function postgresPids(cluster: PrivatePostgres): number[] {
  const postmaster = Number(readFileSync(`${cluster.dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) children.push(Number(entry));
    } catch {
      // the process went away
    }
  }
  return [postmaster, ...children];
}

async function killPostgres(cluster: PrivatePostgres): Promise<number> {
  const pids = postgresPids(cluster);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await waitUntil(() => pids.every((pid) => !alivePid(pid)), 10_000, 50);
  return pids.length;
}

function alivePid(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// /ready, watched

interface ReadyEvent {
  at: number;
  status: number | 'network';
}

function watchReady(url: () => string | undefined) {
  const events: ReadyEvent[] = [];
  let last: number | 'network' | undefined;
  let running = true;
  const loop = (async () => {
    while (running) {
      const u = url();
      const status = u ? await ready(u) : 'network';
      if (status !== last) events.push({ at: Date.now(), status });
      last = status;
      await sleep(100);
    }
  })();
  return {
    events,
    /** Between `from` and `to`: was 503 seen, and when did 200 come back after the first 503. */
    window(from: number, to: number) {
      const inside = events.filter((e) => e.at >= from && e.at <= to);
      const first503 = inside.find((e) => e.status === 503);
      const back = first503 ? inside.find((e) => e.at > first503.at && e.status === 200) : undefined;
      return { saw503: first503 !== undefined, back200AfterMs: back && first503 ? back.at - first503.at : null, back200At: back?.at ?? null };
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

// ---------------------------------------------------------------------------------------------

interface PhaseRow {
  fault: string;
  detail: string;
  acknowledged: number;
  refused: number;
  ready503: string;
  ready200: string;
  apiRestarted: string;
}

async function main() {
  const started = Date.now();
  const cluster = await startPrivatePostgres({ durable: true });
  const redis = await privateRedis();
  const receiver = await startReceiver();
  const processes: TesseraProcess[] = [];
  let watcher: ReturnType<typeof watchReady> | undefined;
  let exitCode = 1;
  try {
    const admin = new pg.Client({ connectionString: cluster.url() });
    await admin.connect();
    await admin.query('create database tessera');
    await admin.end();
    const databaseUrl = cluster.url('tessera');
    const migrator = await openDatabase({ databaseUrl, dataDir: '/nonexistent', poolSize: 1 });
    try {
      await migrateToLatest(migrator.db);
    } finally {
      await migrator.close();
    }
    const env = { databaseUrl, redisUrl: redis.url, prefix: 'chaos', extra: { TESSERA_SHUTDOWN_TIMEOUT_MS: '3000' } };
    const [api, worker1, worker2] = await Promise.all([
      startTessera('api', 'api', env),
      startTessera('worker', 'worker-1', env),
      startTessera('worker', 'worker-2', env),
    ]);
    processes.push(api, worker1, worker2);
    console.log(`cluster up in ${Math.round((Date.now() - started) / 1000)} s: private postgres :${cluster.port}, private redis ${redis.url}, api ${api.baseUrl}, 2 workers`);

    const tenant = await setupTenant(api.baseUrl!, receiver);
    // Paced: on a shared 2-core machine an unpaced load outruns what the workers drain.
    const load = new MixedLoad({ apis: () => [api.baseUrl!], tenant, commandLoops: 3, inboundLoops: 1, pauseMs: PAUSE_MS, label: 'chaos' });
    watcher = watchReady(() => (api.alive() ? api.baseUrl : undefined));
    load.start();
    const phases: PhaseRow[] = [];
    let mark = load.counts();
    const phase = (fault: string, detail: string, window?: { from: number; to: number }, apiPid?: number) => {
      const now = load.counts();
      const acknowledged = now.commandsAcknowledged + now.inboundAcknowledged - (mark.commandsAcknowledged + mark.inboundAcknowledged);
      const sent = now.commands + now.inbound - (mark.commands + mark.inbound);
      mark = now;
      const w = window ? watcher!.window(window.from, window.to) : undefined;
      phases.push({
        fault,
        detail,
        acknowledged,
        refused: sent - acknowledged,
        ready503: w ? (w.saw503 ? 'yes' : 'NO') : '-',
        ready200: w ? (w.back200AfterMs === null ? 'NO' : `${w.back200AfterMs} ms`) : '-',
        apiRestarted: apiPid === undefined ? '-' : api.pid() === apiPid ? 'no' : 'YES',
      });
      console.log(`  ${fault}: ${detail}`);
    };

    await sleep(PHASE_MS);
    phase('warm-up', `${PHASE_MS / 1000} s of load`);

    // 1. The API process.
    await api.kill('SIGKILL');
    await sleep(1_000);
    await api.restart();
    await sleep(PHASE_MS);
    phase('kill -9 api', 'restarted on its port after 1 s');

    // 2. A worker while a batch of timers falls due: a burst of cases whose timers are due together.
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => load.sendCommand(`chaos-burst-${i}`)));
    const burstAt = Date.now();
    await sleep(Math.max(0, 2_150 - (Date.now() - burstAt)));
    const probe = new pg.Client({ connectionString: databaseUrl });
    await probe.connect();
    const due = (await probe.query<{ n: number }>(`select count(*)::int as n from timers where status = 'pending' and due_at <= now()`)).rows[0]!.n;
    await worker1.kill('SIGKILL');
    const firedAfterKill = async () => (await probe.query<{ n: number }>(`select count(*)::int as n from timers where status = 'pending' and due_at <= now()`)).rows[0]!.n;
    await sleep(2_000);
    const stillDue = await firedAfterKill();
    await probe.end();
    await worker1.restart();
    await sleep(PHASE_MS);
    phase('kill -9 worker', `${burst.filter((o) => o === 'acknowledged').length} timers armed together; ${due} due at the kill, ${stillDue} still due 2 s later; restarted`);

    // 3. Postgres itself.
    const pgApiPid = api.pid();
    const pgFrom = Date.now();
    const killed = await killPostgres(cluster);
    await sleep(3_000);
    await cluster.start();
    await waitUntil(async () => (await ready(api.baseUrl!)) === 200, 60_000, 100);
    await sleep(PHASE_MS);
    phase('kill -9 postgres', `${killed} server processes killed, down 3 s, crash recovery`, { from: pgFrom, to: Date.now() }, pgApiPid);

    // 4. Redis: every key flushed, then the server killed and started again empty.
    const redisApiPid = api.pid();
    const redisFrom = Date.now();
    await redis.flushAll();
    await sleep(2_000);
    await redis.kill();
    await sleep(3_000);
    await redis.start();
    await waitUntil(async () => (await ready(api.baseUrl!)) === 200, 60_000, 100);
    await sleep(PHASE_MS);
    phase('flush + kill -9 redis', 'FLUSHALL, 2 s, kill -9, down 3 s, restarted empty', { from: redisFrom, to: Date.now() }, redisApiPid);

    // 5. A worker whose clock runs five minutes fast.
    await worker2.restart({ TESSERA_TEST_CLOCK_SKEW_MS: String(SKEW_MS) });
    await sleep(PHASE_MS * 2);
    phase('clock skew +5 min', 'worker-2 restarted with its clock 5 minutes fast');

    await load.stop();
    const settled = await load.settleRefused(120_000);
    const drainFrom = Date.now();
    let drained = await drain(databaseUrl, DRAIN_MS);
    // Inbox rows that failed for a passing reason (the mapping's 1 s bound on a starved CPU) are
    // kept with their error; the operator's retry applies them.
    const inboxRetried = await retryFailedInbox(databaseUrl, api.baseUrl!);
    if (inboxRetried > 0) drained = await drain(databaseUrl, DRAIN_MS);
    const drainMs = Date.now() - drainFrom;
    const left = drained ? {} : await backlog(databaseUrl);
    const ledger = await audit(databaseUrl, load, receiver);
    const alive = processes.map((p) => `${p.name} ${p.alive() ? 'up' : 'DOWN'}`).join(', ');
    const readyOk = phases.filter((p) => p.ready503 !== '-').every((p) => p.ready503 === 'yes' && p.ready200 !== 'NO' && p.apiRestarted === 'no');
    const ok = clean(ledger) && drained && settled.stillRefused === 0 && readyOk && processes.every((p) => p.alive());

    console.log('\nfault                  | acked | refused | /ready 503 | /ready 200 after | api restarted | detail');
    console.log('-----------------------|-------|---------|------------|------------------|---------------|-------');
    for (const p of phases) {
      console.log(
        `${p.fault.padEnd(22)} | ${String(p.acknowledged).padStart(5)} | ${String(p.refused).padStart(7)} | ${p.ready503.padEnd(10)} | ${p.ready200.padEnd(16)} | ${p.apiRestarted.padEnd(13)} | ${p.detail}`,
      );
    }
    const c = load.counts();
    console.log('\nledger                 | acknowledged / expected | applied once | lost | doubled in effect');
    console.log('-----------------------|-------------------------|--------------|------|------------------');
    console.log(`commands               | ${String(ledger.commandsAcknowledged).padStart(23)} | ${String(ledger.commandsApplied).padStart(12)} | ${String(ledger.commandsLost).padStart(4)} | ${ledger.commandsDoubled}`);
    console.log(`inbound webhooks       | ${String(ledger.inboundAcknowledged).padStart(23)} | ${String(ledger.inboundApplied).padStart(12)} | ${String(ledger.inboundLost).padStart(4)} | ${ledger.inboundDoubled}`);
    console.log(`timer effects          | ${String(ledger.cases).padStart(23)} | ${String(ledger.timersFired).padStart(12)} | ${String(ledger.timerEffectsLost + ledger.timersPending).padStart(4)} | ${ledger.timersDoubled} (fired early: ${ledger.timersEarly})`);
    console.log(`deliveries (webhook-id)| ${String(ledger.events).padStart(23)} | ${String(ledger.deliveriesDelivered).padStart(12)} | ${String(ledger.deliveriesLost).padStart(4)} | ${ledger.deliveriesDoubled} (redelivered, deduplicated by webhook-id: ${ledger.redeliveries})`);
    console.log(
      `\nsent ${c.commands} commands and ${c.inbound} inbound messages; ${settled.retried} re-sends after the faults (same key / webhook-id), ${settled.stillRefused} still refused; ` +
        `${inboxRetried} failed inbox rows retried by the operator route; ` +
        `drained in ${Math.round(drainMs / 1000)} s${drained ? '' : ` (NOT drained: ${JSON.stringify(left)})`}; ${alive}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ${ok ? 'OK' : 'FAILED'}`,
    );
    console.log(
      JSON.stringify({
        ok,
        phases,
        ledger,
        sent: c,
        resent: settled.retried,
        still_refused: settled.stillRefused,
        inbox_retried: inboxRetried,
        drained,
        drain_ms: drainMs,
        backlog: left,
        processes_up: processes.every((p) => p.alive()),
        load_average: os.loadavg().map((l) => Math.round(l * 100) / 100),
        seconds: Math.round((Date.now() - started) / 1000),
      }),
    );
    exitCode = ok ? 0 : 1;
  } finally {
    mkdirSync(LOG_DIR, { recursive: true });
    for (const p of processes) writeFileSync(`${LOG_DIR}/${p.name}.log`, p.output());
    await watcher?.stop();
    await Promise.all(processes.map((p) => p.stop().catch(() => {})));
    await receiver.close();
    await redis.kill();
    await cluster.destroy();
  }
  process.exit(exitCode);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
