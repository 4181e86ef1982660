/**
 * Batched timer firing on real Postgres: one transaction locks many cases, applies each due
 * timer once, settles stale ones, and reports per timer — the path every timer job takes.
 * Uses the run's database with the timer test catalog (test/jobs/catalog, `waiter@1`).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assembleCore, type Core } from '../../src/core.js';
import type { DatabaseHandle } from '../../src/platform/database.js';
import type { JobQueue } from '../../src/platform/job-queue.js';
import { TIMER_CATALOG, WAITER_DELAY_MS, openTimerCases, sleep } from '../jobs/timer-stack.js';
import { openTestDatabase, openTestJobQueue, silentLogger, uniqueId } from '../support/platform.js';

let database: DatabaseHandle;
let jobs: JobQueue;
let core: Core;

beforeAll(async () => {
  database = await openTestDatabase();
  // A prefix of its own with no worker: armed jobs just wait there.
  jobs = openTestJobQueue(undefined, `-${uniqueId('fire')}`);
  core = await assembleCore({ database, jobs, logger: silentLogger, templatesDir: TIMER_CATALOG });
});
afterAll(async () => {
  await jobs.close();
  await database.close();
});

async function timerOf(caseId: string) {
  return database.db.selectFrom('timers').selectAll().where('case_id', '=', caseId).executeTakeFirstOrThrow();
}

async function snapshot(caseId: string) {
  const row = await database.db.selectFrom('cases').select(['version', 'state']).where('id', '=', caseId).executeTakeFirstOrThrow();
  const fired = await sql<{ n: number }>`select count(*)::int as n from journal where case_id = ${caseId} and type = 'timer.fired'`.execute(database.db);
  const timer = await timerOf(caseId);
  return { version: row.version, expired: (row.state as { caseFile: { waitExpired?: boolean } }).caseFile.waitExpired ?? false, firedEntries: fired.rows[0]!.n, timerStatus: timer.status, settled: timer.settled_at !== null };
}

describe('fireTimers', () => {
  it('applies due timers of several cases in one batch, settles a stale one, and skips a vanished case', async () => {
    const [a, b, untouched] = await openTimerCases(core, 3);
    const ta = (await timerOf(a!)).id;
    const tb = (await timerOf(b!)).id;
    const before = await snapshot(a!);

    expect(await core.runner.fireTimers([{ timerId: ta, caseId: a! }])).toEqual([{ timerId: ta, outcome: 'applied' }]);
    const afterFirst = await snapshot(a!);
    expect(afterFirst).toMatchObject({ version: before.version + 1, expired: true, firedEntries: 1, timerStatus: 'fired', settled: true });

    const outcomes = await core.runner.fireTimers([
      { timerId: ta, caseId: a! },
      { timerId: tb, caseId: b! },
      { timerId: 'timer-of-nothing', caseId: 'case-that-never-was' },
    ]);
    expect(outcomes).toEqual([
      { timerId: ta, outcome: 'stale' },
      { timerId: tb, outcome: 'applied' },
      { timerId: 'timer-of-nothing', outcome: 'case_missing' },
    ]);
    // The re-fire changed nothing; b advanced exactly once; the third case was not touched.
    expect(await snapshot(a!)).toEqual(afterFirst);
    expect(await snapshot(b!)).toMatchObject({ version: before.version + 1, expired: true, firedEntries: 1, timerStatus: 'fired' });
    expect(await snapshot(untouched!)).toMatchObject({ version: before.version, expired: false, firedEntries: 0, timerStatus: 'pending', settled: false });
  });

  it('commits the others when one timer is refused, and leaves that one pending for its retry', async () => {
    const [good, orphan] = await openTimerCases(core, 2);
    const tGood = (await timerOf(good!)).id;
    const tOrphan = (await timerOf(orphan!)).id;
    // A case whose template this process does not know (e.g. deployed by a newer version).
    await sql`update cases set state = jsonb_set(state, '{template,key}', '"retired-template"') where id = ${orphan}`.execute(database.db);
    const orphanBefore = await snapshot(orphan!);

    const outcomes = await core.runner.fireTimers([
      { timerId: tGood, caseId: good! },
      { timerId: tOrphan, caseId: orphan! },
    ]);
    expect(outcomes[0]).toEqual({ timerId: tGood, outcome: 'applied' });
    expect(outcomes[1]).toMatchObject({ timerId: tOrphan, outcome: 'failed' });
    expect((outcomes[1] as { error: Error }).error.message).toMatch(/No case template retired-template/);
    expect(await snapshot(good!)).toMatchObject({ expired: true, firedEntries: 1, timerStatus: 'fired' });
    expect(await snapshot(orphan!)).toEqual(orphanBefore);
  });

  it('leaves a timer the database clock has not reached alone (early, with the wait) and fires it once due', async () => {
    const [c] = await openTimerCases(core, 1);
    const timer = await timerOf(c!);
    const before = await snapshot(c!);
    const dueAt = new Date(timer.due_at);
    // However fast the caller's clock, the statement's own time decides.
    const [early] = await core.runner.fireTimers([{ timerId: timer.id, caseId: c!, dueAt: dueAt.toISOString() }]);
    expect(early).toMatchObject({ timerId: timer.id, outcome: 'early' });
    const dueInMs = (early as { dueInMs: number }).dueInMs;
    expect(dueInMs).toBeGreaterThan(0);
    expect(dueInMs).toBeLessThanOrEqual(WAITER_DELAY_MS);
    expect(await snapshot(c!)).toEqual(before);

    const { rows } = await sql<{ wait: number }>`select greatest(0, extract(epoch from (${dueAt.toISOString()}::timestamptz - clock_timestamp())) * 1000)::int + 5 as wait`.execute(database.db);
    await sleep(rows[0]!.wait);
    expect(await core.runner.fireTimers([{ timerId: timer.id, caseId: c!, dueAt: dueAt.toISOString() }])).toEqual([{ timerId: timer.id, outcome: 'applied' }]);
    const fired = await timerOf(c!);
    expect(new Date(fired.settled_at!).getTime()).toBeGreaterThanOrEqual(dueAt.getTime());
    expect(await snapshot(c!)).toMatchObject({ version: before.version + 1, firedEntries: 1, timerStatus: 'fired' });
  });

  it('refuses two timers of one case in one batch and writes nothing', async () => {
    const [c] = await openTimerCases(core, 1);
    const timer = await timerOf(c!);
    const before = await snapshot(c!);
    await expect(core.runner.fireTimers([{ timerId: timer.id, caseId: c! }, { timerId: 'other', caseId: c! }])).rejects.toThrow(/at most one timer per case/);
    expect(await snapshot(c!)).toEqual(before);
  });

  it('lets overlapping batches that lock the same cases in opposite order finish, each timer applied once', async () => {
    const ids = await openTimerCases(core, 6);
    const due = await Promise.all(ids.map(async (caseId) => ({ timerId: (await timerOf(caseId)).id, caseId })));
    const runs = await Promise.all([
      core.runner.fireTimers(due),
      core.runner.fireTimers([...due].reverse()),
      core.runner.fireTimers([due[3]!, due[0]!, due[5]!]),
    ]);
    const applied = runs.flat().filter((o) => o.outcome === 'applied').map((o) => o.timerId);
    expect(applied.sort()).toEqual(due.map((d) => d.timerId).sort());
    expect(runs.flat().every((o) => o.outcome === 'applied' || o.outcome === 'stale')).toBe(true);
    for (const caseId of ids) expect(await snapshot(caseId)).toMatchObject({ firedEntries: 1, timerStatus: 'fired', expired: true });
  });

  it('is the only way a timer fires: run() refuses timer.fire (it would not mark the row)', async () => {
    const [c] = await openTimerCases(core, 1);
    const timer = await timerOf(c!);
    await expect(
      core.runner.run({ caseId: c!, command: { type: 'timer.fire', timerId: timer.id }, actor: { id: 'timer', role: 'system' }, respond: () => ({ statusCode: 200, body: {} }) }),
    ).rejects.toThrow(/go through fireTimers/);
    expect((await snapshot(c!)).timerStatus).toBe('pending');
  });
});
