/**
 * Many inbound messages stored by one statement (acceptInboxMessages, the accept batcher's
 * write): one row per new (source, webhook-id), `seq` in the order given, repeats answered with
 * the first row, and concurrent batches over the same keys in opposite orders neither deadlock
 * nor interleave a key's rows out of commit order.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { acceptInboxMessages, type NewInboxMessage } from '../../src/persistence/inbox-store.js';
import { openDatabase, type DatabaseHandle } from '../../src/platform/database.js';
import { uniqueId } from '../support/platform.js';

let database: DatabaseHandle;
beforeAll(async () => {
  database = await openDatabase({ databaseUrl: inject('databaseUrl'), dataDir: '/nonexistent', poolSize: 4 });
});
afterAll(() => database.close());

const message = (source: string, webhookId: string, key: string | null, extra: Partial<NewInboxMessage> = {}): NewInboxMessage => ({
  id: randomUUID(),
  source,
  webhookId,
  bodyHash: `hash-${webhookId}`,
  payload: { webhookId, text: 'ü ✓' },
  sentAt: new Date('2026-12-02T10:00:00.123Z'),
  correlationKey: key,
  ...extra,
});

async function rowsOf(source: string) {
  const { rows } = await sql<{ id: string; webhook_id: string; seq: string; status: string; correlation_key: string | null; payload: unknown; sent_at: Date; error: unknown }>`
    select id, webhook_id, seq, status, correlation_key, payload, sent_at, error from inbox where source = ${source} order by seq`.execute(database.db);
  return rows;
}

describe('acceptInboxMessages', () => {
  it('stores each new message once, in the order given, with its status, and answers repeats with the first row', async () => {
    const source = uniqueId('batch');
    const first = await acceptInboxMessages(database.db, [message(source, 'w1', 'k1'), message(source, 'w2', null), message(source, 'w3', null, { failure: { code: 'INVALID_MAPPING' } })]);
    expect(first.map((r) => [r.inserted, r.status])).toEqual([[true, 'received'], [true, 'unmatched'], [true, 'failed']]);

    const again = [message(source, 'w4', 'k1'), message(source, 'w1', 'k1'), message(source, 'w3', null, { bodyHash: 'another body' }), message(source, 'w5', 'k2')];
    const second = await acceptInboxMessages(database.db, again);
    expect(second[0]).toEqual({ inserted: true, id: again[0]!.id, status: 'received' });
    expect(second[1]).toEqual({ inserted: false, id: first[0]!.id, status: 'received', sameBody: true });
    expect(second[2]).toEqual({ inserted: false, id: first[2]!.id, status: 'failed', sameBody: false });
    expect(second[3]).toMatchObject({ inserted: true, status: 'received' });

    const rows = await rowsOf(source);
    expect(rows.map((r) => r.webhook_id)).toEqual(['w1', 'w2', 'w3', 'w4', 'w5']);
    expect(rows.map((r) => r.status)).toEqual(['received', 'unmatched', 'failed', 'received', 'received']);
    expect(rows[0]!.payload).toEqual({ webhookId: 'w1', text: 'ü ✓' });
    expect(new Date(rows[0]!.sent_at).toISOString()).toBe('2026-12-02T10:00:00.123Z');
    expect(rows[2]!.error).toEqual({ code: 'INVALID_MAPPING' });
    expect(rows[0]!.id).toBe(first[0]!.id);
  });

  it('refuses a failed message that has a key, before anything is written', async () => {
    const source = uniqueId('batch');
    await expect(acceptInboxMessages(database.db, [message(source, 'ok', 'k'), message(source, 'bad', 'k', { failure: { code: 'X' } })])).rejects.toThrow(/no correlation key/);
    expect(await rowsOf(source)).toEqual([]);
  });

  it('keeps each key in commit order when batches over the same keys run at once, in opposite orders', async () => {
    const source = uniqueId('batch');
    const keys = Array.from({ length: 8 }, (_, i) => `key-${i}`);
    const rounds = 12;
    let n = 0;
    const batch = (order: string[]) => order.map((key) => message(source, `w${n++}`, key));
    // Each round: two batches over all keys, one in each order, at once (two connections).
    for (let round = 0; round < rounds; round++) {
      await Promise.all([acceptInboxMessages(database.db, batch(keys)), acceptInboxMessages(database.db, batch([...keys].reverse()))]);
    }
    const rows = await rowsOf(source);
    expect(rows).toHaveLength(rounds * 2 * keys.length);
    expect(new Set(rows.map((r) => r.webhook_id)).size).toBe(rows.length);
    // seq is drawn under the keys' locks, all taken before the batch's first seq: any two
    // batches appear in the same relative order for every key (without the locks, one batch
    // overtakes the other on some keys and not on others).
    const batchOf = (webhookId: string) => Math.floor(Number(webhookId.slice(1)) / keys.length);
    const positions = keys.map((key) => rows.filter((r) => r.correlation_key === key).map((r) => batchOf(r.webhook_id)).join(','));
    expect(new Set(positions).size).toBe(1);
  });
});
