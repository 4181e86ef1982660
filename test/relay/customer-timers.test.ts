/**
 * Customer timers (behaviour-deviation trip wires) on real Postgres, Redis and BullMQ: re-arming
 * replaces the pending row in one statement, and a wipe of the run's Redis keys loses none.
 */
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { QUEUES } from '../../src/jobs/queues.js';
import { cancelCustomerTimers, listPendingCustomerTimers, rearmDeviationTimers, type DeviationTimerSpec } from '../../src/persistence/customer-timer-store.js';
import { createPrivateDatabase, openNode, privatePrefix, waitFor, wipeRedisPrefix, type Node } from '../jobs/timer-stack.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(label: string): Promise<{ node: Node; prefix: string }> {
  const database = await createPrivateDatabase();
  cleanups.push(database.drop);
  const prefix = privatePrefix(label);
  cleanups.push(async () => void (await wipeRedisPrefix(prefix)));
  const node = await openNode(database.url, prefix);
  cleanups.push(() => node.close());
  return { node, prefix };
}

const spec = (id: string, dueAt: string, templateKey = 'retention-outreach'): DeviationTimerSpec => ({
  id,
  templateKey,
  dueAt,
  basis: { lastAt: '2026-01-01T00:00:00.000Z', events: 3, basis: 'own', meanGapMs: 86_400_000, k: 1.25, kinds: ['purchase'] },
});

const rows = (node: Node) =>
  sql<{ id: string; status: string; settled: boolean }>`select id, status, settled_at is not null as settled from customer_timers order by created_at, id`
    .execute(node.database.db)
    .then((r) => r.rows);

describe('customer timers', () => {
  it('re-arming cancels the pending row and writes the new one in one statement', async () => {
    const { node } = await setUp('ct-rearm');
    const db = node.database.db;
    const first = await db.transaction().execute((trx) => rearmDeviationTimers(trx, 'cust-1', ['retention-outreach'], [spec('t-1', '2030-01-01T00:00:00.000Z')]));
    expect(first).toEqual({ cancelled: [], armed: [{ id: 't-1', customerId: 'cust-1', dueAt: '2030-01-01T00:00:00.000Z' }] });
    const second = await db.transaction().execute((trx) => rearmDeviationTimers(trx, 'cust-1', ['retention-outreach'], [spec('t-2', '2030-02-01T00:00:00.000Z')]));
    expect(second.cancelled).toEqual(['t-1']);
    expect(second.armed.map((a) => a.id)).toEqual(['t-2']);
    expect(await rows(node)).toEqual([
      { id: 't-1', status: 'cancelled', settled: true },
      { id: 't-2', status: 'pending', settled: false },
    ]);
    // The rule no longer arms (e.g. value dropped): the pending row is cancelled, nothing new.
    const third = await db.transaction().execute((trx) => rearmDeviationTimers(trx, 'cust-1', ['retention-outreach'], []));
    expect(third).toEqual({ cancelled: ['t-2'], armed: [] });
    expect((await rows(node)).map((r) => r.status)).toEqual(['cancelled', 'cancelled']);
  });

  it('one pending trip wire per customer and template, enforced by the database', async () => {
    const { node } = await setUp('ct-unique');
    const db = node.database.db;
    await db.transaction().execute((trx) => rearmDeviationTimers(trx, 'cust-1', ['retention-outreach'], [spec('t-1', '2030-01-01T00:00:00Z')]));
    // A writer that skipped the cancellation (not the store's path) is refused; nothing of it is written.
    await expect(
      sql`insert into customer_timers (id, customer_id, kind, template_key, due_at, basis) values ('t-x', 'cust-1', 'deviation', 'retention-outreach', now(), '{}')`.execute(db),
    ).rejects.toThrow(/customer_timers_one_pending/);
    // Another template or another customer is independent.
    await db.transaction().execute((trx) => rearmDeviationTimers(trx, 'cust-1', ['win-back'], [spec('t-2', '2030-01-01T00:00:00Z', 'win-back')]));
    await db.transaction().execute((trx) => rearmDeviationTimers(trx, 'cust-2', ['retention-outreach'], [spec('t-3', '2030-01-01T00:00:00Z')]));
    expect((await rows(node)).map((r) => [r.id, r.status])).toEqual([
      ['t-1', 'pending'],
      ['t-2', 'pending'],
      ['t-3', 'pending'],
    ]);
    expect(await db.transaction().execute((trx) => cancelCustomerTimers(trx, 'cust-1'))).toEqual(expect.arrayContaining(['t-1', 't-2']));
    expect((await listPendingCustomerTimers(db, undefined, 10)).map((t) => t.id)).toEqual(['t-3']);
  });

  it('a trip wire whose job Redis lost is re-armed by the reconciler (job id = row id)', async () => {
    const { node, prefix } = await setUp('ct-wipe');
    const db = node.database.db;
    const { armed } = await db.transaction().execute((trx) => rearmDeviationTimers(trx, 'cust-1', ['retention-outreach'], [spec('t-1', '2030-01-01T00:00:00Z')]));
    node.core.relay.customerTimers.handOver(armed);
    await node.core.relay.settled();
    expect(await node.jobs.held(QUEUES.customerTimers, ['t-1'])).toEqual(new Set(['t-1']));

    expect(await wipeRedisPrefix(prefix)).toBeGreaterThan(0);
    expect(await node.jobs.held(QUEUES.customerTimers, ['t-1'])).toEqual(new Set());

    // The periodic pass looks only at timers due soon; the start-up pass (all) re-arms it.
    expect(await node.core.relay.reconcile({ dueWithinMs: 0 })).toBe(0);
    expect(await node.core.relay.reconcile()).toBe(1);
    expect(await waitFor(async () => ((await node.jobs.held(QUEUES.customerTimers, ['t-1'])).has('t-1') ? true : undefined), 5_000)).toBe(true);
    // Held again: a second pass hands nothing over twice.
    expect(await node.core.relay.reconcile()).toBe(0);
  });
});
