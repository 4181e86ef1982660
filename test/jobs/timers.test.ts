/**
 * Timers end to end on real Postgres, Redis and BullMQ: an XState `after` delay becomes a timer
 * row in the command transaction, the relay arms a delayed job after commit, the worker fires it
 * back in as a command. Redis is transport only: losing the jobs loses no timer.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { QUEUES } from '../../src/jobs/queues.js';
import { startWorkers, type Workers } from '../../src/worker.js';
import { createActor, type Actor } from '../support/actors.js';
import { silentLogger, startTestApp, uniqueId } from '../support/platform.js';

const prefixSuffix = `-${uniqueId('timers')}`;
let t: Awaited<ReturnType<typeof startTestApp>>;
let agent: Actor;
let workers: Workers | undefined;

beforeAll(async () => {
  t = await startTestApp({ prefixSuffix });
  agent = await createActor(t.database.db, 'agent');
});
afterAll(async () => {
  await workers?.close();
  await t.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An inline fragment that waits `delayMs` and then moves on by itself. */
const waiting = (delayMs: number) => ({
  title: 'Wait for the customer',
  machine: {
    id: 'wait',
    initial: 'waiting',
    states: {
      waiting: { after: { [String(delayMs)]: 'expired' }, on: { ANSWERED: 'answered' } },
      expired: { type: 'final', entry: [{ type: 'assignCaseFile', params: { path: 'waitExpired', value: true } }] },
      answered: { type: 'final' },
    },
  },
});

async function openCaseWithWait(delayMs: number) {
  const opened = await t.app.inject({
    method: 'POST',
    url: '/v1/cases',
    headers: agent.headers,
    payload: { template: 'billing-dispute', title: 'Timer test' },
  });
  expect(opened.statusCode).toBe(201);
  const caseId = opened.json().id as string;
  const added = await t.app.inject({
    method: 'POST',
    url: `/v1/cases/${caseId}/fragments`,
    headers: agent.headers,
    payload: { definition: waiting(delayMs), reason: 'customer asked for time' },
  });
  expect(added.statusCode).toBe(201);
  const fragment = (added.json().fragments as { id: string; definition: string }[]).find((f) => f.definition.startsWith('inline-'))!;
  return { caseId, fragmentId: fragment.id };
}

async function timerRows(caseId: string, fragmentId: string) {
  return t.database.db.selectFrom('timers').select(['id', 'status', 'due_at', 'settled_at']).where('case_id', '=', caseId).where('fragment_id', '=', fragmentId).execute();
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(25);
  }
  return undefined;
}

describe('fragment timers', () => {
  it('leaving the state before the delay cancels the timer row; it never fires', async () => {
    const { caseId, fragmentId } = await openCaseWithWait(60_000);
    const [armed] = await timerRows(caseId, fragmentId);
    expect(armed?.status).toBe('pending');
    const answered = await t.app.inject({
      method: 'POST',
      url: `/v1/cases/${caseId}/events`,
      headers: agent.headers,
      payload: { type: 'ANSWERED', fragment_id: fragmentId },
    });
    expect(answered.statusCode).toBe(200);
    expect(await timerRows(caseId, fragmentId)).toEqual([expect.objectContaining({ id: armed!.id, status: 'cancelled' })]);
  });

  it('fires within a second of its due time, once, through BullMQ', async () => {
    workers = await startWorkers({ database: t.database, jobs: t.jobs, secrets: t.secrets, close: async () => {} }, t.core, silentLogger, { reconcileEveryMs: 600_000 });
    const { caseId, fragmentId } = await openCaseWithWait(300);
    const [timer] = await timerRows(caseId, fragmentId);
    const fired = await waitFor(async () => {
      const [row] = await timerRows(caseId, fragmentId);
      return row?.status === 'fired' ? row : undefined;
    }, 5_000);
    expect(fired).toBeDefined();
    const lateness = new Date(fired!.settled_at!).getTime() - new Date(timer!.due_at).getTime();
    expect(lateness).toBeGreaterThanOrEqual(0);
    expect(lateness).toBeLessThan(1_000);

    const c = await t.app.inject({ method: 'GET', url: `/v1/cases/${caseId}`, headers: agent.headers });
    expect(c.json().case_file.waitExpired).toBe(true);
    expect(c.json().fragments.find((f: { id: string }) => f.id === fragmentId).status).toBe('done');
    const timeline = await t.app.inject({ method: 'GET', url: `/v1/cases/${caseId}/timeline?limit=100`, headers: agent.headers });
    const byTimer = timeline.json().items.filter((e: { actor: { id: string } }) => e.actor.id === 'timer');
    expect(byTimer.length).toBeGreaterThan(0);
    expect(new Set(byTimer.map((e: { version: number }) => e.version)).size).toBe(1); // applied once
  });

  it('re-arms pending timers from Postgres after the queue lost them (Redis flushed)', async () => {
    await workers?.close();
    await t.jobs.close(); // stop the worker: nothing may fire while we wipe the queue
    t = { ...t, jobs: (await import('../support/platform.js')).openTestJobQueue(undefined, prefixSuffix) };
    const { caseId, fragmentId } = await openCaseWithWait(200);

    // Wipe every key of this test's queue, as a Redis restart without persistence would.
    const redis = new Redis(inject('redisUrl'));
    const queue = new Queue(QUEUES.timers, { connection: redis, prefix: `${inject('redisPrefix')}${prefixSuffix}` });
    await queue.obliterate({ force: true });
    await queue.close();
    redis.disconnect();
    await sleep(400);
    expect((await timerRows(caseId, fragmentId))[0]?.status).toBe('pending'); // overdue, not lost

    // A worker starting up reconciles: it re-arms the overdue timer and it fires once.
    const { assembleCore } = await import('../../src/core.js');
    const { TEMPLATES_DIR } = await import('../support/platform.js');
    const core = await assembleCore({ database: t.database, jobs: t.jobs, logger: silentLogger, templatesDir: TEMPLATES_DIR });
    workers = await startWorkers({ database: t.database, jobs: t.jobs, secrets: t.secrets, close: async () => {} }, core, silentLogger, { reconcileEveryMs: 600_000 });
    const fired = await waitFor(async () => {
      const [row] = await timerRows(caseId, fragmentId);
      return row?.status === 'fired' ? row : undefined;
    }, 5_000);
    expect(fired).toBeDefined();
    const state = await t.database.db.selectFrom('cases').select('state').where('id', '=', caseId).executeTakeFirstOrThrow();
    expect((state.state as { caseFile: { waitExpired?: boolean } }).caseFile.waitExpired).toBe(true);
  });
});
