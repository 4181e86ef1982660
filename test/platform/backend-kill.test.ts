/**
 * Postgres backends killed under load (`pg_terminate_backend`, what a failover or an admin does to
 * the sessions of a database): an API process and a worker process, real HTTP writes from several
 * clients, and a loop that terminates every session of the test's own database. The processes stay
 * up; every write they acknowledged is in the database exactly once; every write they refused got a
 * clean 503 problem+json with Retry-After (and, retried with its Idempotency-Key, lands once); the
 * worker fires every timer the acknowledged cases armed.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createPrivateDatabase, privatePrefix, sleep, waitFor, wipeRedisPrefix } from '../jobs/timer-stack.js';
import { call, openCase, startFaultStack, type Answer } from './fault-stack.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

const CLIENTS = 6;
const KILL_LOOP_MS = 6_000;
const KILL_EVERY_MS = 300;
const MIN_ACKNOWLEDGED = 10;
const MAX_KILL_LOOP_MS = 30_000;

describe('Postgres backends killed under load', () => {
  it('keeps the API and the worker up, loses and doubles no acknowledged write, and refuses the rest with 503', async () => {
    const database = await createPrivateDatabase();
    cleanups.push(database.drop);
    const prefix = privatePrefix('pgkill');
    cleanups.push(async () => void (await wipeRedisPrefix(prefix)));
    const stack = await startFaultStack(database.url, prefix);
    cleanups.push(() => stack.close());
    const dbName = new URL(database.url).pathname.slice(1);

    // The killer connects to the server's maintenance database, never to the one it empties.
    const serverUrl = new URL(database.url);
    serverUrl.pathname = '/postgres';
    const killer = new pg.Client({ connectionString: serverUrl.toString() });
    await killer.connect();
    cleanups.push(() => killer.end());

    // Warm up: the pool holds connections before the first kill.
    expect((await openCase(stack.api.baseUrl, 'warm-up')).status).toBe(201);

    const answers = new Map<string, Answer>();
    let stop = false;
    let next = 0;
    const clients = Array.from({ length: CLIENTS }, async () => {
      while (!stop) {
        const key = `kill-${next++}`;
        answers.set(key, await openCase(stack.api.baseUrl, key));
      }
    });
    let kills = 0;
    let terminated = 0;
    const started = Date.now();
    const acknowledgedSoFar = () => [...answers.values()].filter((a) => a.status === 201).length;
    // At least KILL_LOOP_MS, and on a slow machine until some writes got through between kills.
    while (Date.now() - started < KILL_LOOP_MS || (acknowledgedSoFar() < MIN_ACKNOWLEDGED && Date.now() - started < MAX_KILL_LOOP_MS)) {
      const { rows } = await killer.query<{ n: number }>(
        `select count(*) filter (where pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
        [dbName],
      );
      kills += 1;
      terminated += rows[0]!.n;
      await sleep(KILL_EVERY_MS);
    }
    stop = true;
    await Promise.all(clients);

    const all = [...answers.entries()];
    const acknowledged = all.filter(([, a]) => a.status === 201);
    const refused = all.filter(([, a]) => a.status !== 201);
    const report = { writes: all.length, acknowledged: acknowledged.length, refused: refused.length, kills, terminated };
    console.log(`backend kill loop: ${JSON.stringify(report)}`);

    // Both processes are still there, and the kills did hit sessions the processes were using.
    expect(stack.apiAlive(), stack.api.output()).toBe(true);
    expect(stack.worker.alive(), stack.worker.output()).toBe(true);
    expect(terminated).toBeGreaterThan(0);
    expect(acknowledged.length).toBeGreaterThan(0);
    // Every refusal is a clean, retryable problem answer: no reset connection, no 500.
    for (const [key, a] of refused) {
      expect({ key, status: a.status, error: a.error }).toEqual({ key, status: 503, error: undefined });
      expect(a.contentType).toMatch(/^application\/problem\+json/);
      expect(a.retryAfter).toMatch(/^\d+$/);
      expect(a.body).toMatchObject({ status: 503, code: 'DATABASE_UNAVAILABLE' });
    }

    const titles = async () => {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const result = await client.query<{ title: string; n: number }>(`select title, count(*)::int as n from cases group by title`);
        return new Map(result.rows.map((r) => [r.title, r.n]));
      } finally {
        await client.end();
      }
    };
    // Every acknowledged write is there, once.
    const stored = await titles();
    for (const [key] of acknowledged) expect({ key, n: stored.get(key) }).toEqual({ key, n: 1 });
    expect([...stored.values()].every((n) => n === 1)).toBe(true);
    // A refusal can come after the commit (the session died before the answer): such a write is
    // stored, and its retry below must not store it twice.
    console.log(`backend kill loop: ${refused.filter(([key]) => stored.has(key)).length} refused writes had committed`);

    // The database is back for good: a refused write retried with its key lands exactly once
    // (a commit whose answer was lost is answered from the idempotency record).
    const ready = await waitFor(async () => ((await call(stack.api.baseUrl, 'GET', '/ready')).status === 200 ? true : undefined), 20_000, 200);
    expect(ready).toBe(true);
    for (const [key] of refused) expect((await openCase(stack.api.baseUrl, key)).status).toBe(201);
    const after = await titles();
    for (const [key] of all) expect({ key, n: after.get(key) }).toEqual({ key, n: 1 });
    expect(after.size).toBe(all.length + 1);

    // The worker took its timer jobs through the kills: every case's timer fires (a job that hit
    // a killed session failed and was retried).
    const pendingTimers = async () => {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from timers where status = 'pending'`);
        return rows[0]!.n;
      } finally {
        await client.end();
      }
    };
    const firing = Date.now();
    const allFired = await waitFor(async () => ((await pendingTimers()) === 0 ? true : undefined), 60_000, 500);
    expect(allFired, stack.worker.output().slice(-4000)).toBe(true);
    console.log(`backend kill loop: every timer fired ${Date.now() - firing} ms after the retried writes`);
    expect(stack.apiAlive()).toBe(true);
    expect(stack.worker.alive()).toBe(true);
  }, 240_000);
});
