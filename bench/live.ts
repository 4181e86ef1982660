/**
 * Live stream benchmark: STREAMS server-sent-event streams connected to one API process
 * (`TESSERA_ROLE=api`, queue mode: Postgres + Redis), each watching one of CASES cases, while
 * another process (a second core, as a worker would be) applies commands (a note on a case,
 * round robin) at RATE per second, open loop, for SECONDS. Each commit is published on Redis by
 * the writer; the API process reads the change feed and writes to the streams that watch the case.
 *
 * Reports event -> stream latency (from the writer's commit acknowledged to the event parsed by the
 * client, both on this machine's clock) p50/p99, deliveries expected (every commit x the streams
 * watching its case), dropped (expected but never received after a grace period for catch-up:
 * must be 0), duplicates, and the API process's CPU (user+system over the command phase, % of one
 * core). The last line is one JSON object.
 *
 *   npm run bench:live      (BENCH_POSTGRES_URL, BENCH_REDIS_URL; BENCH_STREAMS=500 BENCH_RATE=200
 *                            BENCH_SECONDS=20 BENCH_CASES=100)
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pino } from 'pino';
import { assembleCore } from '../src/core.js';
import { createApiKeyStore } from '../src/persistence/api-key-store.js';
import { migrateToLatest } from '../src/persistence/migrate.js';
import { openDatabase } from '../src/platform/database.js';
import { createInProcessJobQueue } from '../src/platform/in-process-job-queue.js';
import { createBenchDatabase, deleteRedisPrefix, percentile, round } from './support.js';

const SERVER_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const STREAMS = Number(process.env.BENCH_STREAMS ?? 500);
const RATE = Number(process.env.BENCH_RATE ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CASES = Number(process.env.BENCH_CASES ?? 100);
const GRACE_MS = 3_000;
const MAX_IN_FLIGHT = 16;
const PORT = Number(process.env.BENCH_PORT ?? 3917);
const ROOT = path.resolve(import.meta.dirname, '..');
const TEMPLATES_DIR = path.join(ROOT, 'case-templates');
const ADMIN_KEY = 'bench-live-admin-key-0123456789abcdef';
const SECRET_KEY = 'dGVzc2VyYS10ZXN0LXNlY3JldC1rZXktMzItYnl0ZXM=';

interface Commit {
  caseId: string;
  version: number;
  at: number;
}

const logger = pino({ level: 'warn' });

/** The writer side, in its own process: a core whose commits are published on Redis. */
async function writer(): Promise<void> {
  const { liveBusFor } = await import('../src/live/live-service.js');
  const database = await openDatabase({ databaseUrl: process.env.DATABASE_URL!, dataDir: '/nonexistent', poolSize: 20 });
  const jobs = createInProcessJobQueue({ logger });
  const core = await assembleCore({ database, jobs, logger, templatesDir: TEMPLATES_DIR });
  const bus = liveBusFor({ redisUrl: REDIS_URL, redisPrefix: process.env.TESSERA_REDIS_PREFIX!, queueMode: true, logger, subscribe: false });
  // The commit time of each command: taken by the after-commit listener (before the publish), per
  // case in commit order (one case's commands commit one after another, under its row lock).
  const committedAt = new Map<string, number[]>();
  core.onCommitted((committed) => {
    const now = Date.now();
    for (const c of committed) {
      let times = committedAt.get(c.caseId);
      if (!times) committedAt.set(c.caseId, (times = []));
      times.push(now);
    }
    bus.publishCommits({ cases: committed.map((c) => c.caseId) });
  });
  const caseIds = JSON.parse(process.env.BENCH_CASE_IDS!) as string[];
  process.send!({ ready: true });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  const total = RATE * SECONDS;
  const start = performance.now();
  const inFlight = new Set<Promise<void>>();
  let lateStarts = 0;
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    // Open loop, but never more commands in flight than connections (a pool timeout is no measurement).
    while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    else if (wait < -50) lateStarts++;
    const caseId = caseIds[i % caseIds.length]!;
    const p = core.runner
      .run({
        caseId,
        command: { type: 'content.add', kind: 'note', data: { text: `bench note ${i}` } },
        actor: { id: 'bench', role: 'supervisor' },
        respond: ({ case: c }) => ({ statusCode: 201, body: c.version }),
      })
      .then((r) => {
        const at = committedAt.get(caseId)?.shift() ?? Date.now();
        process.send!({ commit: { caseId, version: r.body as number, at } satisfies Commit });
      })
      .catch((err: unknown) => {
        process.send!({ error: String(err) });
      });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }
  await Promise.all([...inFlight]);
  process.send!({ done: true, lateStarts });
  await bus.close();
  await core.relay.settled();
  await jobs.close();
  await database.close();
  process.exit(0);
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      http
        .get(url, (res) => {
          res.resume();
          if (res.statusCode === 200) resolve();
          else retry();
        })
        .on('error', retry);
    };
    const retry = () => (Date.now() > deadline ? reject(new Error(`${url} did not answer`)) : setTimeout(attempt, 200));
    attempt();
  });
}

async function main(): Promise<void> {
  const bench = await createBenchDatabase(SERVER_URL);
  const prefix = `tessera-bench-live-${randomUUID().slice(0, 8)}`;
  let api: ChildProcess | undefined;
  let writerProcess: ChildProcess | undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  try {
    // Setup: schema, a supervisor key, CASES cases (opened through the command path).
    const database = await openDatabase({ databaseUrl: bench.url, dataDir: '/nonexistent', poolSize: 10 });
    await migrateToLatest(database.db);
    const key = await createApiKeyStore(database.db).create({ role: 'supervisor', userId: 'bench-supervisor', name: 'bench live', teams: [] });
    const jobs = createInProcessJobQueue({ logger });
    const core = await assembleCore({ database, jobs, logger, templatesDir: TEMPLATES_DIR });
    const caseIds: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const opened = await core.runner.run({
        command: { type: 'case.open', input: { title: `Live bench ${i}`, queue: 'bench', caseFile: { account: { id: `acc-${i}` } } } } as never,
        template: { key: 'billing-dispute' },
        actor: { id: 'bench-supervisor', role: 'supervisor' },
        respond: ({ case: c }) => ({ statusCode: 201, body: c.id }),
      });
      caseIds.push(opened.body as string);
    }
    await jobs.close();
    await database.close();

    const env = {
      ...process.env,
      DATABASE_URL: bench.url,
      REDIS_URL,
      TESSERA_REDIS_PREFIX: prefix,
      TESSERA_ROLE: 'api',
      PORT: String(PORT),
      HOST: '127.0.0.1',
      TESSERA_ADMIN_KEY: ADMIN_KEY,
      TESSERA_SECRET_KEY: SECRET_KEY,
      LOG_LEVEL: 'warn',
      TESSERA_RATE_LIMIT_PER_MINUTE: '1000000',
      NODE_ENV: 'production',
    };
    api = spawn(process.execPath, ['--max-semi-space-size=64', '--import', 'tsx', path.join(ROOT, 'src/server.ts')], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    await waitForHttp(`http://127.0.0.1:${PORT}/health`, 60_000);

    // The streams: stream i watches case i % CASES.
    const watchers = new Map<string, number>();
    const received = new Map<string, number[]>();
    let duplicates = 0;
    let streamErrors = 0;
    const seenPerStream: Set<string>[] = [];
    const connect = (i: number) =>
      new Promise<void>((resolve, reject) => {
        const caseId = caseIds[i % CASES]!;
        watchers.set(caseId, (watchers.get(caseId) ?? 0) + 1);
        const seen = new Set<string>();
        seenPerStream.push(seen);
        const req = http.get(`http://127.0.0.1:${PORT}/v1/stream?cases=${caseId}`, { agent, headers: { accept: 'text/event-stream', authorization: `Bearer ${key.key}` } });
        req.on('error', (err) => {
          streamErrors++;
          reject(err);
        });
        req.on('response', (res) => {
          if (res.statusCode !== 200) return reject(new Error(`stream ${i}: ${res.statusCode}`));
          res.setEncoding('utf8');
          let buffer = '';
          let snapshot = false;
          res.on('data', (chunk: string) => {
            buffer += chunk;
            let at: number;
            while ((at = buffer.indexOf('\n\n')) >= 0) {
              const frame = buffer.slice(0, at);
              buffer = buffer.slice(at + 2);
              if (frame.includes('event: snapshot') && !snapshot) {
                snapshot = true;
                resolve();
              }
              if (!frame.includes('event: case\n')) continue;
              const now = Date.now();
              const data = JSON.parse(frame.slice(frame.indexOf('data: ') + 6)) as { case_id: string; version: number };
              const k = `${data.case_id}:${data.version}`;
              if (seen.has(k)) {
                duplicates++;
                continue;
              }
              seen.add(k);
              let times = received.get(k);
              if (!times) received.set(k, (times = []));
              times.push(now);
            }
          });
          res.on('close', () => {
            if (!snapshot) reject(new Error(`stream ${i} closed early`));
          });
        });
      });
    for (let i = 0; i < STREAMS; i += 50) await Promise.all(Array.from({ length: Math.min(50, STREAMS - i) }, (_, j) => connect(i + j)));

    writerProcess = fork(import.meta.filename, ['writer'], {
      env: { ...env, BENCH_CASE_IDS: JSON.stringify(caseIds) },
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const commits: Commit[] = [];
    let writerErrors = 0;
    let lateStarts = 0;
    const writerDone = new Promise<void>((resolve) => {
      writerProcess!.on('message', (m: { ready?: boolean; commit?: Commit; error?: string; done?: boolean; lateStarts?: number }) => {
        if (m.commit) commits.push(m.commit);
        else if (m.error) {
          if (writerErrors++ === 0) console.error(`first writer error: ${m.error}`);
        }
        else if (m.done) {
          lateStarts = m.lateStarts ?? 0;
          resolve();
        }
      });
    });
    await new Promise<void>((resolve) => writerProcess!.once('message', () => resolve()));
    const cpuStart = cpuTicks(api.pid!);
    const wallStart = performance.now();
    writerProcess.send('go');
    await writerDone;
    const wallMs = performance.now() - wallStart;
    const cpuEnd = cpuTicks(api.pid!);
    await new Promise((r) => setTimeout(r, GRACE_MS));

    const latencies: number[] = [];
    let expected = 0;
    let delivered = 0;
    for (const c of commits) {
      const n = watchers.get(c.caseId) ?? 0;
      expected += n;
      const times = received.get(`${c.caseId}:${c.version}`) ?? [];
      delivered += times.length;
      for (const t of times) latencies.push(t - c.at);
    }
    latencies.sort((a, b) => a - b);
    const ticksPerSecond = 100;
    const result = {
      bench: 'live',
      streams: STREAMS,
      cases: CASES,
      rate_per_s: RATE,
      seconds: SECONDS,
      commits: commits.length,
      achieved_rate_per_s: round(commits.length / (wallMs / 1000)),
      writer_errors: writerErrors,
      writer_late_starts: lateStarts,
      deliveries_expected: expected,
      deliveries: delivered,
      dropped: expected - delivered,
      duplicates,
      stream_errors: streamErrors,
      latency_ms: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(latencies[latencies.length - 1] ?? 0) },
      api_cpu_percent_of_one_core: round((((cpuEnd - cpuStart) / ticksPerSecond) * 1000 * 100) / wallMs),
      loadavg: (await import('node:os')).loadavg().map((n) => round(n, 2)),
    };
    console.log(`streams ${STREAMS} on one API process, ${commits.length} commits at ${result.achieved_rate_per_s}/s from another process`);
    console.log(`event -> stream p50 ${result.latency_ms.p50} ms, p99 ${result.latency_ms.p99} ms; dropped ${result.dropped} of ${expected}; API CPU ${result.api_cpu_percent_of_one_core}% of one core`);
    console.log(JSON.stringify(result));
  } finally {
    agent.destroy();
    writerProcess?.kill('SIGKILL');
    if (api) {
      api.kill('SIGTERM');
      await new Promise((r) => api!.once('exit', r));
    }
    await deleteRedisPrefix(REDIS_URL, `${prefix}:*`).catch(() => undefined);
    await bench.drop();
  }
}

if (process.argv[2] === 'writer') {
  writer().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
