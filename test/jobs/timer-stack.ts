/**
 * A private stack for the timer durability tests: their own database (the reconciler re-arms
 * every pending timer of a database, so a worker started by another test file would otherwise
 * fire these timers through its own prefix) and their own BullMQ prefix.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { sql } from 'kysely';
import { Redis } from 'ioredis';
import pg from 'pg';
import { deleteRedisKeys } from '../../src/platform/redis-keys.js';
import { inject } from 'vitest';
import { assembleCore, type Core } from '../../src/core.js';
import { QUEUES } from '../../src/jobs/queues.js';
import { migrateToLatest } from '../../src/persistence/migrate.js';
import { createBullmqJobQueue } from '../../src/platform/bullmq-job-queue.js';
import { openDatabase, type DatabaseHandle } from '../../src/platform/database.js';
import type { JobQueue } from '../../src/platform/job-queue.js';
import type { Platform } from '../../src/platform/platform.js';
import { startWorkers, type WorkerOptions, type Workers } from '../../src/worker.js';
import { silentLogger, testSecretBox } from '../support/platform.js';

export const TIMER_CATALOG = path.resolve(import.meta.dirname, 'catalog');
/** The `after` delay of `waiter@1` (test/jobs/catalog). */
export const WAITER_DELAY_MS = 1_500;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 50): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined || Date.now() >= deadline) return value;
    await sleep(everyMs);
  }
}

/** A migrated database of its own on the run's Postgres server; `drop()` removes it. */
export async function createPrivateDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const runUrl = new URL(inject('databaseUrl'));
  const name = `${runUrl.pathname.slice(1)}_t${randomBytes(3).toString('hex')}`;
  const serverUrl = new URL(runUrl);
  serverUrl.pathname = '/postgres';
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: serverUrl.toString() });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`create database ${name}`);
  const url = new URL(runUrl);
  url.pathname = `/${name}`;
  const database = await openDatabase({ databaseUrl: url.toString(), dataDir: '/nonexistent', poolSize: 2 });
  try {
    await migrateToLatest(database.db);
  } finally {
    await database.close();
  }
  return { url: url.toString(), drop: () => admin(`drop database if exists ${name} with (force)`) };
}

export function privatePrefix(label: string): string {
  return `${inject('redisPrefix')}-${label}-${randomBytes(3).toString('hex')}`;
}

/**
 * Deletes every Redis key under `prefix` — the prefix-scoped equivalent of FLUSHALL (a Redis
 * restart without persistence). Never FLUSHALL: other test runs share this Redis.
 */
export function wipeRedisPrefix(prefix: string): Promise<number> {
  return deleteRedisKeys(inject('redisUrl'), `${prefix}:*`);
}

/** A process's worth of Tessera on the private database and prefix: database, queue, core. */
export interface Node {
  database: DatabaseHandle;
  jobs: JobQueue;
  core: Core;
  /** Starts the timer processor and the reconciler in this node. */
  startWorkers(options?: WorkerOptions): Promise<Workers>;
  close(): Promise<void>;
}

export async function openNode(databaseUrl: string, prefix: string, poolSize = 10): Promise<Node> {
  const database = await openDatabase({ databaseUrl, dataDir: '/nonexistent', poolSize });
  const jobs = createBullmqJobQueue({ redisUrl: inject('redisUrl'), prefix, logger: silentLogger });
  const core = await assembleCore({ database, jobs, logger: silentLogger, templatesDir: TIMER_CATALOG });
  const platform: Platform = { database, jobs, secrets: testSecretBox(), close: async () => {} };
  let workers: Workers | undefined;
  return {
    database,
    jobs,
    core,
    async startWorkers(options = {}) {
      workers = await startWorkers(platform, core, silentLogger, { reconcileEveryMs: 600_000, ...options });
      return workers;
    },
    async close() {
      await workers?.close();
      await jobs.close();
      await database.close();
    },
  };
}

/** Opens `count` timer cases through the command path (each arms one `waiter` timer). */
export async function openTimerCases(core: Core, count: number, concurrency = 8): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        const response = await core.runner.run({
          template: { key: 'timer-case' },
          command: { type: 'case.open', input: { title: 'timer durability', ownerId: 'tester' } },
          actor: { id: 'tester', role: 'agent' },
          respond: ({ case: c }) => ({ statusCode: 201, body: { id: c.id } }),
        });
        ids.push((response.body as { id: string }).id);
      }
    }),
  );
  return ids;
}

/** Per case: timer rows by status, journal versions with a fired timer, and the case file flag. */
export async function timerOutcome(database: DatabaseHandle) {
  const rows = await sql<{ status: string; n: number }>`select status, count(*)::int as n from timers group by status`.execute(database.db);
  const byStatus = Object.fromEntries(rows.rows.map((r) => [r.status, r.n]));
  const perCase = await sql<{ id: string; version: number; expired: boolean | null; fired_versions: number; fired_entries: number }>`
    select c.id, c.version, (c.state #>> '{caseFile,waitExpired}')::boolean as expired,
           (select count(distinct j.version)::int from journal j where j.case_id = c.id and j.type = 'timer.fired') as fired_versions,
           (select count(*)::int from journal j where j.case_id = c.id and j.type = 'timer.fired') as fired_entries
    from cases c`.execute(database.db);
  return { byStatus, perCase: perCase.rows };
}

/** Delayed jobs waiting in the timer queue under `prefix`. */
export async function countDelayed(prefix: string): Promise<number> {
  const redis = new Redis(inject('redisUrl'));
  try {
    return await redis.zcard(`${prefix}:${QUEUES.timers}:delayed`);
  } finally {
    redis.disconnect();
  }
}
