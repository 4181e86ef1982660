/**
 * Behaviour deviation end to end, on real Postgres, Redis and BullMQ: a customer's purchases arm a
 * durable trip wire at last + 1.25 x their own mean gap (template retention-outreach); when it is
 * due a proactive retention case opens, once; a new purchase before it fires moves it. Times are
 * the database's (activities are dated relative to its `now()`); a job is moved forward with
 * BullMQ's `promote()` (fake timers do not move Redis time). Each test has its own database and
 * BullMQ prefix (the reconciler re-arms every pending timer of a database).
 */
import path from 'node:path';
import { Queue } from 'bullmq';
import { sql, type Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { applyCustomerCommand } from '../../src/commands/apply-customer-command.js';
import { mergeCustomersIn } from '../../src/commands/merge-customers.js';
import { createIdempotentWriter } from '../../src/commands/run-idempotent.js';
import { recordActivityCommand } from '../../src/commands/record-customer-activity.js';
import { assembleCore, type Core } from '../../src/core.js';
import { DAY_MS } from '../../src/customers/behaviour-deviation.js';
import { QUEUES } from '../../src/jobs/queues.js';
import { createBullmqJobQueue } from '../../src/platform/bullmq-job-queue.js';
import { openDatabase, type DatabaseHandle } from '../../src/platform/database.js';
import type { JobQueue } from '../../src/platform/job-queue.js';
import type { Database } from '../../src/persistence/schema.js';
import { startWorkers, type Workers } from '../../src/worker.js';
import { createPrivateDatabase, privatePrefix, waitFor, wipeRedisPrefix } from '../jobs/timer-stack.js';
import { silentLogger, testSecretBox } from '../support/platform.js';

const TEMPLATES = path.resolve(import.meta.dirname, '../../case-templates');
const actor = { id: 'crm-sync', role: 'integrator' as const };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Node {
  database: DatabaseHandle;
  db: Kysely<Database>;
  jobs: JobQueue;
  core: Core;
  startWorkers(): Promise<Workers>;
  close(): Promise<void>;
}

async function openNode(url: string, prefix: string): Promise<Node> {
  const database = await openDatabase({ databaseUrl: url, dataDir: '/nonexistent', poolSize: 6 });
  const jobs = createBullmqJobQueue({ redisUrl: inject('redisUrl'), prefix, logger: silentLogger });
  const core = await assembleCore({ database, jobs, logger: silentLogger, templatesDir: TEMPLATES });
  let workers: Workers | undefined;
  return {
    database,
    db: database.db,
    jobs,
    core,
    async startWorkers() {
      workers = await startWorkers({ database, jobs, secrets: testSecretBox(), close: async () => {} }, core, silentLogger, { reconcileEveryMs: 600_000 });
      return workers;
    },
    async close() {
      await workers?.close();
      await core.relay.settled();
      await jobs.close();
      await database.close();
    },
  };
}

async function setUp(label: string) {
  const database = await createPrivateDatabase();
  cleanups.push(database.drop);
  const prefix = privatePrefix(label);
  cleanups.push(async () => void (await wipeRedisPrefix(prefix)));
  const nodes: Node[] = [];
  cleanups.push(async () => {
    for (const n of nodes) await n.close();
  });
  return {
    prefix,
    url: database.url,
    async node() {
      const n = await openNode(database.url, prefix);
      nodes.push(n);
      return n;
    },
  };
}

/** The database's clock now, and an ISO time `days` from it. */
async function dbNow(db: Kysely<Database>): Promise<number> {
  const { rows } = await sql<{ now: Date }>`select now() as now`.execute(db);
  return new Date(rows[0]!.now).getTime();
}
const iso = (ms: number) => new Date(ms).toISOString();

async function createCustomer(node: Node, lifetimeValue: number, name = 'Ana Kovač') {
  const { customer } = await node.db.transaction().execute((trx) =>
    applyCustomerCommand(trx, {
      command: {
        type: 'customer.create',
        input: { profile: { name }, metrics: { lifetimeValue: { value: lifetimeValue, asOf: new Date().toISOString(), source: 'crm' } } },
      },
      actor,
    }),
  );
  return customer.id;
}

/** Records purchases the way a route does: one idempotent customer command, hand-over after commit. */
async function recordPurchases(node: Node, customerId: string, times: number[]) {
  const writer = createIdempotentWriter({ db: node.db, secrets: testSecretBox() });
  await recordActivityCommand(
    {
      db: node.db,
      writer,
      handOver: (ids) => node.core.relay.handOverOutbox(ids),
      handOverCustomerTimers: (timers) => node.core.relay.customerTimers.handOver(timers),
    },
    {
      customerId,
      actor,
      activities: times.map((at, i) => ({ kind: 'purchase', at: iso(at), amount: 40 + i, ref: `order-${at}` })),
      respond: () => ({ statusCode: 201, body: {} }),
    },
  );
  await node.core.relay.settled();
}

const timersOf = (db: Kysely<Database>, customerId: string) =>
  db
    .selectFrom('customer_timers')
    .select(['id', 'status', 'outcome', 'case_id', 'due_at', 'basis'])
    .where('customer_id', '=', customerId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();

const casesOf = (db: Kysely<Database>, customerId: string) =>
  db.selectFrom('cases').select(['id', 'template_key', 'status', 'priority', 'state']).where('customer_id', '=', customerId).execute();

function queueOf(prefix: string) {
  const queue = new Queue(QUEUES.customerTimers, { connection: { url: inject('redisUrl') } as never, prefix });
  cleanups.push(() => queue.close());
  return queue;
}

describe('behaviour deviation', () => {
  it('purchases 30 days apart, the last 60 days ago: one retention case opens, journaled on the customer and the case', async () => {
    const stack = await setUp('dev-open');
    const node = await stack.node();
    await node.startWorkers();
    const now = await dbNow(node.db);
    const customerId = await createCustomer(node, 2_000);
    await recordPurchases(node, customerId, [now - 120 * DAY_MS, now - 90 * DAY_MS, now - 60 * DAY_MS]);

    // The trip wire: last + 1.25 x 30 days = 22.5 days ago; the job is due at once.
    const [timer] = await timersOf(node.db, customerId);
    expect(new Date(timer!.due_at).getTime()).toBe(now - 60 * DAY_MS + 37.5 * DAY_MS);
    expect(timer!.basis).toMatchObject({ events: 3, basis: 'own', meanGapMs: 30 * DAY_MS, k: 1.25, kinds: ['purchase'] });

    const fired = await waitFor(async () => {
      const rows = await timersOf(node.db, customerId);
      return rows[0]?.status === 'fired' ? rows : undefined;
    }, 15_000);
    expect(fired).toEqual([expect.objectContaining({ id: timer!.id, status: 'fired', outcome: 'opened' })]);
    const cases = await casesOf(node.db, customerId);
    expect(cases).toHaveLength(1);
    const c = cases[0]!;
    expect(fired![0]!.case_id).toBe(c.id);
    // The only customer of this database ranks at the top: urgent (priorityByValue 0.9).
    expect(c).toMatchObject({ template_key: 'retention-outreach', status: 'open', priority: 'urgent' });
    const state = c.state as { customer: unknown; caseFile: { deviation: Record<string, unknown> }; queue: string; tasks: unknown[] };
    expect(state.customer).toEqual({ id: customerId, name: 'Ana Kovač' });
    expect(state.queue).toBe('retention');
    expect(state.caseFile.deviation).toMatchObject({ kinds: ['purchase'], events: 3, meanGapDays: 30, k: 1.25, basis: 'own', lifetimeValue: 2000, valuePercentile: 1 });
    expect(state.caseFile.deviation['overdueDays']).toBeGreaterThanOrEqual(60);
    // The default fragment opened its task (contact the customer).
    expect(state.tasks).toHaveLength(1);

    const caseJournal = await node.db.selectFrom('journal').select(['type', 'actor_id', 'data']).where('case_id', '=', c.id).orderBy('version').orderBy('idx').execute();
    expect(caseJournal.map((j) => j.type)).toEqual(expect.arrayContaining(['case.opened', 'case.proactive']));
    expect(caseJournal.find((j) => j.type === 'case.proactive')).toMatchObject({ actor_id: 'deviation', data: expect.objectContaining({ customerId, timerId: timer!.id }) });
    const customerJournal = await node.db.selectFrom('customer_journal').select(['type', 'actor_id', 'data']).where('customer_id', '=', customerId).orderBy('version').execute();
    expect(customerJournal.at(-1)).toMatchObject({ type: 'customer.proactive_case_opened', actor_id: 'deviation', data: expect.objectContaining({ caseId: c.id, templateKey: 'retention-outreach' }) });
    // The case's own outbox event went out like any other.
    const outbox = await node.db.selectFrom('outbox').select('type').where('case_id', '=', c.id).execute();
    expect(outbox.map((o) => o.type)).toContain('case.opened');
  });

  it('a re-fire is a no-op, and a second trip wire while the case is open opens nothing', async () => {
    const stack = await setUp('dev-refire');
    const node = await stack.node();
    await node.startWorkers();
    const now = await dbNow(node.db);
    const customerId = await createCustomer(node, 2_000);
    await recordPurchases(node, customerId, [now - 120 * DAY_MS, now - 90 * DAY_MS, now - 60 * DAY_MS]);
    const fired = await waitFor(async () => ((await timersOf(node.db, customerId))[0]?.status === 'fired' ? true : undefined), 15_000);
    expect(fired).toBe(true);
    const [first] = await timersOf(node.db, customerId);
    const journalBefore = await node.db.selectFrom('customer_journal').select('version').where('customer_id', '=', customerId).execute();

    // The same timer again (a duplicate job, a stalled job re-run): nothing written.
    expect(await node.core.fireDeviationTimer({ timerId: first!.id, customerId })).toEqual({ outcome: 'stale' });
    await node.jobs.enqueue(QUEUES.customerTimers, { id: `${first!.id}-dup`, data: { timerId: first!.id, customerId, dueAt: iso(now - DAY_MS) } });

    // A late-arriving older purchase re-arms a trip wire that is due at once: it fires, finds the open case.
    await recordPurchases(node, customerId, [now - 150 * DAY_MS]);
    const second = await waitFor(async () => {
      const rows = await timersOf(node.db, customerId);
      return rows.length === 2 && rows[1]!.status === 'fired' ? rows[1] : undefined;
    }, 15_000);
    expect(second).toMatchObject({ outcome: 'case_open', case_id: null });
    expect(await casesOf(node.db, customerId)).toHaveLength(1);
    // The customer journal grew only by the recorded purchase, not by a second opening.
    const journalAfter = await node.db.selectFrom('customer_journal').select(['version', 'type']).where('customer_id', '=', customerId).orderBy('version').execute();
    expect(journalAfter.length).toBe(journalBefore.length + 1);
    expect(journalAfter.filter((j) => j.type === 'customer.proactive_case_opened')).toHaveLength(1);
  });

  it('a new purchase before the trip wire fires moves it: the old row is cancelled, its job fires into nothing', async () => {
    const stack = await setUp('dev-move');
    const node = await stack.node();
    await node.startWorkers();
    const queue = queueOf(stack.prefix);
    const now = await dbNow(node.db);
    const customerId = await createCustomer(node, 2_000);
    await recordPurchases(node, customerId, [now - 90 * DAY_MS, now - 60 * DAY_MS, now - 30 * DAY_MS]);
    const [armed] = await timersOf(node.db, customerId);
    // Due in 7.5 days: a delayed job with the row's id.
    expect(new Date(armed!.due_at).getTime()).toBe(now - 30 * DAY_MS + 37.5 * DAY_MS);
    expect(await (await queue.getJob(armed!.id))?.isDelayed()).toBe(true);

    await recordPurchases(node, customerId, [now - DAY_MS]);
    const rows = await timersOf(node.db, customerId);
    expect(rows.map((r) => [r.id === armed!.id, r.status])).toEqual([
      [true, 'cancelled'],
      [false, 'pending'],
    ]);
    // Mean gap now 89/3 days from the purchase a day ago.
    const moved = rows[1]!;
    expect(new Date(moved.due_at).getTime()).toBe(Math.round(now - DAY_MS + 1.25 * (89 / 3) * DAY_MS));

    // The old job runs now anyway (promoted): it finds its row cancelled and does nothing
    // (completed jobs are removed, so "done" is: gone from the queue).
    await (await queue.getJob(armed!.id))!.promote();
    const done = await waitFor(async () => ((await queue.getJob(armed!.id)) === undefined ? true : undefined), 10_000);
    expect(done).toBe(true);
    // The new job promoted early is put back (not due by the database's clock) and opens nothing.
    await (await queue.getJob(moved.id))!.promote();
    await waitFor(async () => ((await (await queue.getJob(moved.id))?.isDelayed()) ? true : undefined), 10_000);
    expect(await (await queue.getJob(moved.id))?.isDelayed()).toBe(true);

    // Fired directly, the cancelled trip wire is stale and the moved one is not due yet: nothing written.
    expect(await node.core.fireDeviationTimer({ timerId: armed!.id, customerId })).toEqual({ outcome: 'stale' });
    expect(await node.core.fireDeviationTimer({ timerId: moved.id, customerId })).toMatchObject({ outcome: 'early' });
    expect(await casesOf(node.db, customerId)).toEqual([]);
    expect((await timersOf(node.db, customerId)).map((r) => r.status)).toEqual(['cancelled', 'pending']);
  });

  it('below minValue or minEvents nothing is armed', async () => {
    const stack = await setUp('dev-none');
    const node = await stack.node();
    const now = await dbNow(node.db);
    const poor = await createCustomer(node, 100);
    await recordPurchases(node, poor, [now - 120 * DAY_MS, now - 90 * DAY_MS, now - 60 * DAY_MS]);
    const young = await createCustomer(node, 5_000);
    await recordPurchases(node, young, [now - 90 * DAY_MS, now - 60 * DAY_MS]);
    const unknown = await node.db.transaction().execute((trx) => applyCustomerCommand(trx, { command: { type: 'customer.create', input: { profile: { name: 'No value' } } }, actor }));
    await recordPurchases(node, unknown.customer.id, [now - 120 * DAY_MS, now - 90 * DAY_MS, now - 60 * DAY_MS]);
    // Other kinds do not count as purchases.
    const contacts = await createCustomer(node, 5_000);
    const writer = createIdempotentWriter({ db: node.db, secrets: testSecretBox() });
    await recordActivityCommand(
      { db: node.db, writer, handOver: () => {} },
      { customerId: contacts, actor, activities: [0, 30, 60].map((d) => ({ kind: 'contact', at: iso(now - (120 - d) * DAY_MS) })), respond: () => ({ statusCode: 201, body: {} }) },
    );
    expect(await node.db.selectFrom('customer_timers').selectAll().execute()).toEqual([]);

    // When the value rises above minValue the rule arms at once (the value is what it reads besides activity).
    await node.db.transaction().execute((trx) =>
      applyCustomerCommand(trx, { customerId: poor, command: { type: 'customer.update', metrics: { lifetimeValue: { value: 900, asOf: new Date().toISOString(), source: 'crm' } } }, actor }),
    );
    expect((await timersOf(node.db, poor)).map((t) => t.status)).toEqual(['pending']);
    // ...and a drop below it cancels the trip wire.
    await node.db.transaction().execute((trx) =>
      applyCustomerCommand(trx, { customerId: poor, command: { type: 'customer.update', metrics: { lifetimeValue: { value: 50, asOf: new Date().toISOString(), source: 'crm' } } }, actor }),
    );
    expect((await timersOf(node.db, poor)).map((t) => t.status)).toEqual(['cancelled']);
  });

  it('a trip wire survives a wipe of the queue keys and a worker restart: it still fires, once', async () => {
    const stack = await setUp('dev-wipe');
    const producer = await stack.node();
    const now = await dbNow(producer.db);
    const customerId = await createCustomer(producer, 2_000);
    await recordPurchases(producer, customerId, [now - 120 * DAY_MS, now - 90 * DAY_MS, now - 60 * DAY_MS]);
    const [timer] = await timersOf(producer.db, customerId);
    expect(await producer.jobs.held(QUEUES.customerTimers, [timer!.id])).toEqual(new Set([timer!.id]));
    await producer.close();

    // No worker ran: the prefix-scoped FLUSHALL loses the job, the row stays pending.
    expect(await wipeRedisPrefix(stack.prefix)).toBeGreaterThan(0);
    const worker = await stack.node();
    expect(await worker.jobs.held(QUEUES.customerTimers, [timer!.id])).toEqual(new Set());
    expect(await casesOf(worker.db, customerId)).toEqual([]);

    // A worker starts: its reconciler re-arms the row from Postgres and the trip wire fires.
    await worker.startWorkers();
    const fired = await waitFor(async () => ((await timersOf(worker.db, customerId))[0]?.status === 'fired' ? true : undefined), 15_000);
    expect(fired).toBe(true);
    expect((await casesOf(worker.db, customerId)).map((c) => c.template_key)).toEqual(['retention-outreach']);
  });

  it("a merge cancels the tombstone's trip wire and arms the survivor's from the merged history", async () => {
    const stack = await setUp('dev-merge');
    const node = await stack.node();
    const now = await dbNow(node.db);
    const survivor = await createCustomer(node, 2_000, 'Ana');
    const duplicate = await createCustomer(node, 2_000, 'Ana (duplicate)');
    await recordPurchases(node, survivor, [now - 90 * DAY_MS, now - 60 * DAY_MS]);
    await recordPurchases(node, duplicate, [now - 40 * DAY_MS, now - 30 * DAY_MS, now - 20 * DAY_MS]);
    expect(await timersOf(node.db, survivor)).toEqual([]);
    const [dupTimer] = await timersOf(node.db, duplicate);
    expect(dupTimer!.status).toBe('pending');

    const result = await node.db.transaction().execute((trx) => mergeCustomersIn(trx, { into: survivor, from: duplicate, reason: 'same person', actor }));
    expect((await timersOf(node.db, duplicate)).map((t) => t.status)).toEqual(['cancelled']);
    const [armed] = await timersOf(node.db, survivor);
    expect(result.customerTimers).toEqual([expect.objectContaining({ id: armed!.id, customerId: survivor })]);
    // Five purchases from day -90 to day -20: mean gap 17.5 days, expected by day -20 + 21.875.
    expect(armed).toMatchObject({ status: 'pending', basis: expect.objectContaining({ events: 5, meanGapMs: 17.5 * DAY_MS }) });
    expect(new Date(armed!.due_at).getTime()).toBe(now - 20 * DAY_MS + 1.25 * 17.5 * DAY_MS);
  });
});
