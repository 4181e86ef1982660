/**
 * "Wiping Redis loses no work" and "a re-fire is a no-op", on real Postgres, Redis and BullMQ.
 * Each test has its own database and BullMQ prefix (see timer-stack.ts).
 */
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { QUEUES } from '../../src/jobs/queues.js';
import {
  countDelayed,
  createPrivateDatabase,
  openNode,
  openTimerCases,
  privatePrefix,
  sleep,
  timerOutcome,
  waitFor,
  wipeRedisPrefix,
  type Node,
} from './timer-stack.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(label: string) {
  const database = await createPrivateDatabase();
  cleanups.push(database.drop);
  const prefix = privatePrefix(label);
  cleanups.push(async () => void (await wipeRedisPrefix(prefix)));
  const nodes: Node[] = [];
  cleanups.push(async () => {
    for (const node of nodes) await node.close();
  });
  return {
    prefix,
    async node() {
      const node = await openNode(database.url, prefix);
      nodes.push(node);
      return node;
    },
  };
}

async function allFired(node: Node, count: number, timeoutMs: number) {
  return waitFor(async () => {
    const { byStatus } = await timerOutcome(node.database);
    return byStatus['fired'] === count ? true : undefined;
  }, timeoutMs, 200);
}

/** Exactly once in effect: every case advanced once, one journaled firing, every row fired. */
async function expectAppliedOnce(node: Node, count: number, openedVersion: number) {
  const { byStatus, perCase } = await timerOutcome(node.database);
  expect(byStatus).toEqual({ fired: count });
  expect(perCase).toHaveLength(count);
  const wrong = perCase.filter((c) => c.expired !== true || c.fired_versions !== 1 || c.fired_entries !== 1 || c.version !== openedVersion + 1);
  expect(wrong).toEqual([]);
}

describe('timer durability', () => {
  it('1,000 pending timers survive a wipe of the queue keys: each fires once after a worker reconciles', async () => {
    const stack = await setUp('wipe');
    const producer = await stack.node();
    const ids = await openTimerCases(producer.core, 1_000);
    expect(ids).toHaveLength(1_000);
    const before = await timerOutcome(producer.database);
    expect(before.byStatus).toEqual({ pending: 1_000 });
    const openedVersion = before.perCase[0]!.version;
    expect(before.perCase.every((c) => c.version === openedVersion && c.expired === null)).toBe(true);

    // The relay armed 1,000 delayed jobs; no worker runs on this prefix yet.
    const armed = await waitFor(async () => {
      const counts = await countDelayed(stack.prefix);
      return counts === 1_000 ? counts : undefined;
    }, 10_000);
    expect(armed).toBe(1_000);
    await producer.jobs.close();

    // The prefix-scoped equivalent of FLUSHALL (the shared Redis serves other runs): every job is gone.
    expect(await wipeRedisPrefix(stack.prefix)).toBeGreaterThan(0);
    expect(await countDelayed(stack.prefix)).toBe(0);
    await sleep(WAIT_PAST_DUE_MS);
    expect((await timerOutcome(producer.database)).byStatus).toEqual({ pending: 1_000 }); // overdue, not lost

    // A worker starts and reconciles from Postgres: everything fires, once.
    const worker = await stack.node();
    await worker.startWorkers();
    expect(await allFired(worker, 1_000, 45_000)).toBe(true);
    await sleep(500); // a stray second job would land now
    await expectAppliedOnce(worker, 1_000, openedVersion);
  }, 90_000);

  it('two workers on one queue never apply a timer twice, even when it is enqueued twice', async () => {
    const stack = await setUp('two');
    const a = await stack.node();
    const b = await stack.node();
    await a.startWorkers();
    await b.startWorkers();
    const ids = await openTimerCases(a.core, 200);
    const { perCase } = await timerOutcome(a.database);
    // Workers run while the cases open: on a loaded machine the first timers may already have fired.
    const openedVersion = Math.min(...perCase.map((c) => c.version));

    // The same timers again, under other job ids (a reconcile racing handOver, a stalled job
    // re-run): both workers now hold a job for every timer, due at the same moment.
    const timers = await a.database.db.selectFrom('timers').select(['id', 'case_id', 'due_at']).execute();
    expect(timers).toHaveLength(ids.length);
    await Promise.all(
      timers.map((t) =>
        b.jobs.enqueue(QUEUES.timers, {
          id: `${t.id}-dup`,
          data: { timerId: t.id, caseId: t.case_id },
          delayMs: Math.max(0, new Date(t.due_at).getTime() - Date.now()),
        }),
      ),
    );
    await Promise.all([a.core.relay.reconcile({ overdueAfterMs: 0 }), b.core.relay.reconcile({ overdueAfterMs: 0 })]);

    expect(await allFired(a, 200, 30_000)).toBe(true);
    await sleep(1_000);
    await expectAppliedOnce(a, 200, openedVersion);
  }, 60_000);

  it('the reconciler pages through timers due within one millisecond exactly once each', async () => {
    const stack = await setUp('page');
    const node = await stack.node();
    const [caseId] = await openTimerCases(node.core, 1, 1);
    // 2,500 rows 1 µs apart: more than a page (1,000) inside one millisecond, which a JS Date cannot tell apart.
    await sql`
      insert into timers (id, case_id, kind, due_at, status)
      select 'page-' || n, ${caseId}, 'fragment_delay', date_trunc('second', now()) + interval '1 hour' + n * interval '1 microsecond', 'pending'
      from generate_series(1, 2500) n`.execute(node.database.db);
    // Every pending row is looked at exactly once (a page boundary inside a millisecond must
    // neither repeat nor skip rows): count what the reconciler asks the real queue about.
    const asked: string[] = [];
    const held = node.jobs.held.bind(node.jobs);
    node.jobs.held = async (queue, ids) => {
      asked.push(...ids);
      return held(queue, ids);
    };
    // The case's own timer was armed when it opened; the 2,500 inserted rows were not.
    expect(await node.core.relay.reconcile()).toBe(2_500);
    expect(asked).toHaveLength(2_501);
    expect(new Set(asked).size).toBe(2_501);
  });

  it('a periodic pass re-arms only timers due within its horizon; later ones are left for later passes', async () => {
    const stack = await setUp('horizon');
    const node = await stack.node();
    const [caseId] = await openTimerCases(node.core, 1, 1);
    // 10 timers due in an hour and 10 due in a month (the case's own waiter is set aside).
    await sql`update timers set status = 'cancelled' where case_id = ${caseId}`.execute(node.database.db);
    await sql`
      insert into timers (id, case_id, kind, due_at, status)
      select 'soon-' || n, ${caseId}, 'fragment_delay', now() + interval '1 hour', 'pending' from generate_series(1, 10) n
      union all
      select 'later-' || n, ${caseId}, 'fragment_delay', now() + interval '30 days', 'pending' from generate_series(1, 10) n`.execute(node.database.db);
    await wipeRedisPrefix(stack.prefix);
    expect(await node.core.relay.reconcile({ dueWithinMs: 2 * 3_600_000 })).toBe(10);
    expect(await countDelayed(stack.prefix)).toBe(10);
    // The start-up pass (no horizon) arms the rest; the queue still holds the first ten.
    expect(await node.core.relay.reconcile()).toBe(10);
    expect(await countDelayed(stack.prefix)).toBe(20);
  });
});

/** Longer than the waiter's delay: after it, every wiped timer is overdue. */
const WAIT_PAST_DUE_MS = 1_600;
