/**
 * A Tessera process whose clock is wrong (the `TESSERA_TEST_CLOCK_SKEW_MS` seam, honoured only
 * under NODE_ENV=test) opens cases and fires their timers on a database of its own. The database's
 * clock is the only one that counts: no timer fires before its `due_at`, the journal and
 * `settled_at` carry the database's time, and a slow clock does not make timers late.
 *
 * "Fired" is judged from the database: `settled_at` is the firing statement's time, and the test
 * also notes (by `clock_timestamp()`, polling) when it first saw each row fired.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/platform/database.js';
import { startServer, type RunningServer } from '../support/process.js';
import { ADMIN_KEY, SECRET_KEY } from '../support/platform.js';
import { createPrivateDatabase, privatePrefix, sleep, TIMER_CATALOG, WAITER_DELAY_MS, wipeRedisPrefix } from './timer-stack.js';

const MINUTES_5 = 5 * 60_000;
const CASES = 5;
/** How late a timer may be seen fired on this loaded machine (a skew would make it five minutes). */
const LATE_BOUND_MS = 20_000;

let database: { url: string; drop: () => Promise<void> };
let db: DatabaseHandle;

beforeAll(async () => {
  database = await createPrivateDatabase();
  db = await openDatabase({ databaseUrl: database.url, dataDir: '/nonexistent', poolSize: 2 });
});
afterAll(async () => {
  await db?.close();
  await database?.drop();
});

const dbNow = async () => (await sql<{ now: Date }>`select clock_timestamp() as now`.execute(db.db)).rows[0]!.now.getTime();

async function runSkewed(skewMs: number) {
  let server: RunningServer | undefined;
  const prefix = privatePrefix('skew');
  try {
    server = await startServer({
      DATABASE_URL: database.url,
      REDIS_URL: inject('redisUrl'),
      TESSERA_REDIS_PREFIX: prefix,
      TESSERA_TEMPLATES_DIR: TIMER_CATALOG,
      TESSERA_SECRET_KEY: SECRET_KEY,
      TESSERA_ADMIN_KEY: ADMIN_KEY,
      TESSERA_MIGRATE_ON_START: 'false',
      TESSERA_TEST_CLOCK_SKEW_MS: String(skewMs),
    });
    const before = await dbNow();
    const ids: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const res = await fetch(`${server.baseUrl}/v1/cases`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ template: 'timer-case', title: `skew ${skewMs}` }),
      });
      expect(res.status).toBe(201);
      ids.push(((await res.json()) as { id: string }).id);
    }
    const opened = await dbNow();

    // Poll the rows; note the database time at which each one was first seen fired.
    const seenAt = new Map<string, number>();
    const giveUp = opened + WAITER_DELAY_MS + LATE_BOUND_MS;
    while (seenAt.size < CASES) {
      const { rows } = await sql<{ case_id: string; status: string; now: Date }>`
        select case_id, status, clock_timestamp() as now from timers where case_id = any(${ids}::text[])`.execute(db.db);
      for (const r of rows) if (r.status === 'fired' && !seenAt.has(r.case_id)) seenAt.set(r.case_id, r.now.getTime());
      if ((await dbNow()) > giveUp) break;
      await sleep(50);
    }
    const after = await dbNow();
    const timers = await db.db
      .selectFrom('timers')
      .select(['case_id', 'status', 'due_at', 'settled_at'])
      .where('case_id', 'in', ids)
      .execute();
    const journal = await db.db.selectFrom('journal').select(['case_id', 'type', 'at']).where('case_id', 'in', ids).execute();
    return { ids, before, opened, after, seenAt, timers, journal };
  } finally {
    await server?.stop();
    await wipeRedisPrefix(prefix);
  }
}

function expectDatabaseTime(run: Awaited<ReturnType<typeof runSkewed>>) {
  expect(run.timers).toHaveLength(CASES);
  for (const timer of run.timers) {
    const due = new Date(timer.due_at).getTime();
    const settled = new Date(timer.settled_at!).getTime();
    const seen = run.seenAt.get(timer.case_id)!;
    expect(timer.status).toBe('fired');
    // Armed by the database's clock: due the waiter's delay after an open that happened in the window.
    expect(due).toBeGreaterThanOrEqual(run.before + WAITER_DELAY_MS - 5);
    expect(due).toBeLessThanOrEqual(run.opened + WAITER_DELAY_MS + 5);
    // Never early: the firing statement started at or after the due time, by the database's clock...
    expect(settled).toBeGreaterThanOrEqual(due);
    // ...and `settled_at` is that statement's real time, not a skewed one (it precedes the test's sighting).
    expect(settled).toBeLessThanOrEqual(seen);
    expect(seen - due).toBeLessThan(LATE_BOUND_MS);
  }
  // Every journal time is the database's: inside the window the test watched.
  expect(run.journal.length).toBeGreaterThan(CASES);
  for (const entry of run.journal) {
    const at = new Date(entry.at).getTime();
    expect(at, `${entry.type} at ${new Date(at).toISOString()}`).toBeGreaterThanOrEqual(run.before - 5);
    expect(at, `${entry.type} at ${new Date(at).toISOString()}`).toBeLessThanOrEqual(run.after + 5);
  }
}

describe('a process whose clock is wrong', () => {
  it('five minutes fast: fires no timer before its due time by the database clock, and journals database time', async () => {
    const run = await runSkewed(+MINUTES_5);
    expect(run.seenAt.size).toBe(CASES);
    expectDatabaseTime(run);
  }, 120_000);

  it('five minutes slow: arms and fires timers on time by the database clock, not five minutes late', async () => {
    const run = await runSkewed(-MINUTES_5);
    expect(run.seenAt.size, 'timers seen fired within the bound').toBe(CASES);
    expectDatabaseTime(run);
  }, 120_000);
});
