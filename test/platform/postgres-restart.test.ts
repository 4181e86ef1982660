/**
 * The database restarts under running processes. A Postgres cluster of the test's own (never the
 * shared one) serves an API process and a worker process; it is stopped (`pg_ctl stop -m fast`:
 * every session gets `terminating connection due to administrator command`) and started again.
 * While it is down: both processes stay up, writes and reads answer 503 problem+json with
 * Retry-After, `/ready` is 503 naming postgres, `/health` stays 200. Once it is back: `/ready`
 * turns 200 by itself, writes succeed, and a timer that fell due during the outage fires (its job
 * failed against the missing database and was retried).
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/persistence/migrate.js';
import { openDatabase } from '../../src/platform/database.js';
import { privatePrefix, sleep, waitFor, wipeRedisPrefix } from '../jobs/timer-stack.js';
import { startPrivatePostgres } from '../support/private-postgres.js';
import { call, FAULT_TIMER_MS, openCase, startFaultStack } from './fault-stack.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** How long `/ready` may take to turn 200 after the database is back (the pool reconnects on use). */
const READY_BOUND_MS = 15_000;

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

describe('a Postgres restart under running processes', () => {
  it('answers 503 with Retry-After while the database is down, keeps the processes up, and recovers by itself', async () => {
    const cluster = await startPrivatePostgres();
    cleanups.push(() => cluster.destroy());
    await query(cluster.url(), 'create database tessera');
    const url = cluster.url('tessera');
    const database = await openDatabase({ databaseUrl: url, dataDir: '/nonexistent', poolSize: 1 });
    try {
      await migrateToLatest(database.db);
    } finally {
      await database.close();
    }
    const prefix = privatePrefix('pgrestart');
    cleanups.push(async () => void (await wipeRedisPrefix(prefix)));
    const stack = await startFaultStack(url, prefix);
    cleanups.push(() => stack.close());
    const { baseUrl } = stack.api;

    expect((await call(baseUrl, 'GET', '/ready')).status).toBe(200);
    expect((await openCase(baseUrl, 'before')).status).toBe(201);
    // Its timer falls due while the database is down.
    const doomed = await openCase(baseUrl, 'timer-during-outage');
    expect(doomed.status).toBe(201);

    await cluster.stop('fast');
    const stoppedAt = Date.now();

    const write = await openCase(baseUrl, 'during');
    expect(write.status).toBe(503);
    expect(write.contentType).toMatch(/^application\/problem\+json/);
    expect(write.retryAfter).toMatch(/^\d+$/);
    expect(write.body).toMatchObject({ status: 503, code: 'DATABASE_UNAVAILABLE', type: 'https://tessera.dev/problems/database-unavailable' });
    const read = await call(baseUrl, 'GET', `/v1/cases/${(doomed.body as { id: string }).id}`);
    expect(read.status).toBe(503);
    expect(read.body).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
    expect((await call(baseUrl, 'GET', '/health')).status).toBe(200);
    const notReady = await call(baseUrl, 'GET', '/ready');
    expect(notReady.status).toBe(503);
    expect(notReady.body.detail).toMatch(/postgres/);
    expect(notReady.body.checks).toContainEqual({ name: 'postgres', ok: false, error: expect.any(String) });

    // Long enough for the worker to take the due timer's job and fail it against the missing database.
    await sleep(Math.max(0, FAULT_TIMER_MS + 1_500 - (Date.now() - stoppedAt)));
    expect(stack.apiAlive(), stack.api.output()).toBe(true);
    expect(stack.worker.alive(), stack.worker.output()).toBe(true);

    await cluster.start();
    const startedAt = Date.now();
    const ready = await waitFor(async () => ((await call(baseUrl, 'GET', '/ready')).status === 200 ? true : undefined), READY_BOUND_MS, 100);
    const readyAfterMs = Date.now() - startedAt;
    console.log(`postgres restart: /ready 200 again ${readyAfterMs} ms after the database was back (down for ${startedAt - stoppedAt} ms)`);
    expect(ready).toBe(true);

    // The refused write, retried with its key, lands once; the timer fires without help.
    expect((await openCase(baseUrl, 'during')).status).toBe(201);
    expect((await openCase(baseUrl, 'after')).status).toBe(201);
    const fired = await waitFor(async () => {
      const rows = await query<{ n: number }>(url, `select count(*)::int as n from timers where status = 'pending'`);
      return rows[0]!.n === 0 ? true : undefined;
    }, 60_000, 250);
    expect(fired, stack.worker.output().slice(-4000)).toBe(true);
    const titles = await query<{ title: string; n: number }>(url, 'select title, count(*)::int as n from cases group by title order by title');
    expect(titles).toEqual([
      { title: 'after', n: 1 },
      { title: 'before', n: 1 },
      { title: 'during', n: 1 },
      { title: 'timer-during-outage', n: 1 },
    ]);
    const expired = await query<{ expired: boolean }>(url, `select (state #>> '{caseFile,waitExpired}')::boolean as expired from cases where title = 'timer-during-outage'`);
    expect(expired).toEqual([{ expired: true }]);
    // The timer fell due while the database was down and fired after it came back: its job met
    // the outage, failed, and was retried.
    const [timer] = await query<{ due_at: Date; settled_at: Date }>(
      url,
      `select t.due_at, t.settled_at from timers t join cases c on c.id = t.case_id where c.title = 'timer-during-outage'`,
    );
    expect(timer!.due_at.getTime()).toBeGreaterThan(stoppedAt - 1_000);
    expect(timer!.due_at.getTime()).toBeLessThan(startedAt);
    expect(timer!.settled_at.getTime()).toBeGreaterThan(startedAt - 1_000);
    expect(stack.worker.output()).toMatch(/job failed/);
    expect(stack.apiAlive()).toBe(true);
    expect(stack.worker.alive()).toBe(true);
  }, 240_000);
});
