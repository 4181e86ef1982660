/**
 * A worker killed between taking a timer job and committing its command loses nothing and
 * doubles nothing. Real processes: `TESSERA_ROLE=worker` children on a private database and
 * BullMQ prefix. The test holds the case row lock so the worker's command blocks inside its
 * transaction, with the job active in Redis; then the worker gets SIGKILL.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { QUEUES } from '../../src/jobs/queues.js';
import { spawnTs } from '../support/process.js';
import { SECRET_KEY } from '../support/platform.js';
import {
  createPrivateDatabase,
  openNode,
  openTimerCases,
  privatePrefix,
  sleep,
  TIMER_CATALOG,
  timerOutcome,
  waitFor,
  wipeRedisPrefix,
} from './timer-stack.js';
import { Redis } from 'ioredis';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

interface WorkerChild {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

async function startWorkerProcess(databaseUrl: string, prefix: string): Promise<WorkerChild> {
  const child = spawnTs('src/server.ts', [], {
    TESSERA_ROLE: 'worker',
    DATABASE_URL: databaseUrl,
    REDIS_URL: inject('redisUrl'),
    TESSERA_REDIS_PREFIX: prefix,
    TESSERA_TEMPLATES_DIR: TIMER_CATALOG,
    TESSERA_MIGRATE_ON_START: 'false',
    TESSERA_SECRET_KEY: SECRET_KEY,
    LOG_LEVEL: 'info',
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const worker: WorkerChild = {
    child,
    output: () => out,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  cleanups.push(() => worker.kill('SIGKILL'));
  const started = await waitFor(async () => (out.includes('workers started') ? true : undefined), 30_000, 100);
  if (!started) throw new Error(`worker did not start:\n${out}`);
  return worker;
}

describe('a worker killed mid-command', () => {
  it('neither loses nor doubles the timer: the next worker applies it exactly once', async () => {
    const database = await createPrivateDatabase();
    cleanups.push(database.drop);
    const prefix = privatePrefix('crash');
    cleanups.push(async () => void (await wipeRedisPrefix(prefix)));
    const producer = await openNode(database.url, prefix, 2);
    cleanups.push(() => producer.close());

    const first = await startWorkerProcess(database.url, prefix);
    const [caseId] = await openTimerCases(producer.core, 1, 1);
    const { perCase } = await timerOutcome(producer.database);
    const openedVersion = perCase[0]!.version;

    // Hold the case row lock: the worker's `timer.fire` will take the job and block in its transaction.
    const locker = new pg.Client({ connectionString: database.url });
    await locker.connect();
    cleanups.push(() => locker.end());
    await locker.query('begin');
    await locker.query('select id from cases where id = $1 for update', [caseId]);
    const dbName = new URL(database.url).pathname.slice(1);
    const blocked = await waitFor(async () => {
      const { rows } = await locker.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where datname = $1 and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
        [dbName],
      );
      return rows[0]!.n > 0 ? true : undefined;
    }, 15_000);
    expect(blocked).toBe(true);
    const redis = new Redis(inject('redisUrl'));
    cleanups.push(async () => redis.disconnect());
    expect(await redis.llen(`${prefix}:${QUEUES.timers}:active`)).toBe(1); // the job was taken

    await first.kill('SIGKILL');
    await locker.query('rollback');
    await sleep(300);
    // The dead worker's transaction never committed; its job still sits "active" in Redis.
    expect((await timerOutcome(producer.database)).byStatus).toEqual({ pending: 1 });
    expect(await redis.llen(`${prefix}:${QUEUES.timers}:active`)).toBe(1);

    // The next worker reconciles at start and re-arms the overdue timer under a fresh job id.
    const second = await startWorkerProcess(database.url, prefix);
    const fired = await waitFor(async () => ((await timerOutcome(producer.database)).byStatus['fired'] === 1 ? true : undefined), 10_000);
    expect(fired, second.output()).toBe(true);
    await sleep(500);
    const after = await timerOutcome(producer.database);
    expect(after.byStatus).toEqual({ fired: 1 });
    expect(after.perCase).toEqual([expect.objectContaining({ id: caseId, version: openedVersion + 1, expired: true, fired_versions: 1, fired_entries: 1 })]);
    await second.kill('SIGTERM');
  }, 90_000);
});
