/**
 * An outbound event no enabled subscription wants is stored already fanned out (to nobody): no
 * dispatch job, no second write. One that a subscription wants is left pending and handed over.
 * A private database, so other test files' subscriptions do not count.
 */
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { QUEUES } from '../../src/jobs/queues.js';
import { insertSubscription } from '../../src/persistence/webhook-store.js';
import { createPrivateDatabase, openNode, openTimerCases, privatePrefix, wipeRedisPrefix, type Node } from '../jobs/timer-stack.js';
import { testSecretBox } from '../support/platform.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function node(): Promise<Node> {
  const database = await createPrivateDatabase();
  cleanups.push(database.drop);
  const prefix = privatePrefix('unwanted');
  cleanups.push(async () => void (await wipeRedisPrefix(prefix)));
  const n = await openNode(database.url, prefix);
  cleanups.push(() => n.close());
  return n;
}

const outboxOf = async (n: Node, caseId: string) =>
  (await sql<{ id: string; type: string; status: string }>`select id, type, status from outbox where case_id = ${caseId} order by seq`.execute(n.database.db)).rows;

describe('outbound events nobody subscribed to', () => {
  it('are stored dispatched with no job; wanted ones stay pending and get a dispatch job', async () => {
    const n = await node();
    const [quiet] = await openTimerCases(n.core, 1, 1);
    // The hand-over to the queue runs after the command has answered: wait for it to finish, so
    // "no job" is a fact and not a race (its timers' jobs are handed over by the same call).
    await n.core.relay.settled();
    const quietRows = await outboxOf(n, quiet!);
    expect(quietRows.length).toBeGreaterThan(0);
    expect(quietRows.every((r) => r.status === 'dispatched')).toBe(true);
    expect(await n.jobs.held(QUEUES.outbox, quietRows.map((r) => r.id))).toEqual(new Set());

    await insertSubscription(n.database.db, {
      url: 'https://hooks.example.com/tessera',
      eventTypes: ['case.opened'],
      secretSealed: testSecretBox().seal('whsec_test'),
      description: null,
      enabled: true,
      createdBy: 'integrator-1',
    });
    const [watched] = await openTimerCases(n.core, 1, 1);
    await n.core.relay.settled();
    const rows = await outboxOf(n, watched!);
    const opened = rows.find((r) => r.type === 'case.opened')!;
    expect(opened.status).toBe('pending');
    expect(rows.filter((r) => r.type !== 'case.opened').every((r) => r.status === 'dispatched')).toBe(true);
    // One dispatch job per transaction, named after its first wanted row (no worker runs here).
    expect(await n.jobs.held(QUEUES.outbox, [opened.id])).toEqual(new Set([opened.id]));
  });
});
