/**
 * The population latency L_n query (persistence/population-latency-store.ts) on real Postgres,
 * against the pure reference definition (customers/behaviour-deviation.ts), and the
 * `fallback: population` trip wire that reads it.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { rearmCustomerDeviation } from '../../src/commands/rearm-deviation-timers.js';
import { DAY_MS, populationLatencyMs } from '../../src/customers/behaviour-deviation.js';
import type { CustomerState } from '../../src/customers/types.js';
import { openDatabase } from '../../src/platform/database.js';
import { readPopulationLatency, refreshPopulationLatency } from '../../src/persistence/population-latency-store.js';
import { createPrivateDatabase } from '../jobs/timer-stack.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function privateDb() {
  const database = await createPrivateDatabase();
  cleanups.push(database.drop);
  const handle = await openDatabase({ databaseUrl: database.url, dataDir: '/nonexistent', poolSize: 3 });
  cleanups.push(() => handle.close());
  return handle.db;
}

const T0 = Date.parse('2026-01-01T00:00:00Z');

describe('population latency', () => {
  it('matches the reference definition, per n, over all customers', async () => {
    const db = await privateDb();
    // A deterministic spread of histories: customer i buys every (5 + i) days, i % 6 + 1 times, plus noise kinds.
    const histories: number[][] = [];
    const rows: Record<string, unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      const id = `c${i}`;
      const times = Array.from({ length: (i % 6) + 1 }, (_, j) => T0 + j * (5 + i) * DAY_MS + (i * j * 3_600_000) % DAY_MS);
      histories.push(times);
      for (const at of times) rows.push({ id: randomUUID(), customer_id: id, kind: 'purchase', at: new Date(at).toISOString() });
      rows.push({ id: randomUUID(), customer_id: id, kind: 'login', at: new Date(T0 + i * 1000).toISOString() });
    }
    // Activity rows reference customers (migration 0010): minimal rows.
    for (let i = 0; i < 40; i++) {
      await sql`insert into customers (id, status, version, state, created_at, updated_at) values (${`c${i}`}, 'active', 1, '{}', now(), now())`.execute(db);
    }
    for (const r of rows) {
      await sql`insert into customer_activity (id, customer_id, kind, at, data, recorded_at, recorded_by) values (${r.id}, ${r.customer_id}, ${r.kind}, ${r.at}, '{}', now(), 'test')`.execute(db);
    }
    expect(await refreshPopulationLatency(db, ['purchase'], 4)).toBe(4);
    const expected = populationLatencyMs(histories, 4);
    for (const [n, { meanMs, customers }] of expected) {
      expect(await readPopulationLatency(db, ['purchase'], n)).toBeCloseTo(meanMs, 0);
      const row = await db.selectFrom('population_latency').select('customers').where('n', '=', n).executeTakeFirstOrThrow();
      expect(row.customers).toBe(customers);
    }
    expect(await readPopulationLatency(db, ['purchase'], 5)).toBeUndefined();
    // Refreshing replaces the rows (no duplicates, no stale n).
    expect(await refreshPopulationLatency(db, ['purchase'], 2)).toBe(2);
    expect((await db.selectFrom('population_latency').select('n').orderBy('n').execute()).map((r) => r.n)).toEqual([1, 2]);
  });

  it('a fallback: population rule arms a short history at last + L_n', async () => {
    const db = await privateDb();
    await sql`insert into customers (id, status, version, state, created_at, updated_at) values ('short', 'active', 1, '{}', now(), now())`.execute(db);
    await sql`insert into customer_activity (id, customer_id, kind, at, data, recorded_at, recorded_by) values ('a1', 'short', 'purchase', ${new Date(T0).toISOString()}, '{}', now(), 'test')`.execute(db);
    await sql`insert into population_latency (kinds, n, mean_ms, customers) values ('purchase', 1, ${20 * DAY_MS}, 50)`.execute(db);
    // A template with a population fallback, as the definitions table holds it.
    const template = { key: 'win-back', version: 1, deviation: { kinds: ['purchase'], k: 1.25, minEvents: 3, minValue: 0, fallback: 'population' } };
    await sql`insert into definitions (kind, key, version, hash, source, body) values ('template', 'win-back', 1, 'h', 'file', ${JSON.stringify(template)})`.execute(db);
    const customer = { id: 'short', status: 'active', metrics: { lifetimeValue: { value: 10, asOf: new Date(T0).toISOString(), source: 'crm' } } } as unknown as CustomerState;
    const armed = await db.transaction().execute((trx) => rearmCustomerDeviation(trx, customer, ['purchase']));
    expect(armed).toEqual([expect.objectContaining({ customerId: 'short', dueAt: new Date(T0 + 20 * DAY_MS).toISOString() })]);
    const row = await db.selectFrom('customer_timers').select(['template_key', 'basis']).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ template_key: 'win-back', basis: { basis: 'population', events: 1, meanGapMs: 20 * DAY_MS } });
  });
});
