/**
 * Behaviour-deviation costs on a throwaway database seeded with CUSTOMERS customers and about
 * EVENTS_PER purchases each (plus as many logins):
 * - the L_n refresh (one windowed aggregate over every purchase row), end to end;
 * - one record-activity command with and without the trip-wire re-arm (the extra statements:
 *   rules read, series read, cancel + insert), p50/p99 over RUNS commands.
 * Last line: one JSON object.
 *
 *   npx tsx bench/deviation.ts     (BENCH_POSTGRES_URL, BENCH_CUSTOMERS=100000, BENCH_RUNS=500)
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { applyCustomerCommand } from '../src/commands/apply-customer-command.js';
import { rearmCustomerDeviation } from '../src/commands/rearm-deviation-timers.js';
import type { CustomerState } from '../src/customers/types.js';
import { migrateToLatest } from '../src/persistence/migrate.js';
import { refreshPopulationLatency } from '../src/persistence/population-latency-store.js';
import type { Database } from '../src/persistence/schema.js';
import { createBenchDatabase, percentile, round } from './support.js';

const SERVER_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 100_000);
const EVENTS_PER = Number(process.env.BENCH_EVENTS_PER ?? 5);
const RUNS = Number(process.env.BENCH_RUNS ?? 500);
const actor = { id: 'bench', role: 'integrator' as const };

async function main() {
  const bench = await createBenchDatabase(SERVER_URL);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: bench.url, max: 4 }) }) });
  try {
    await migrateToLatest(db);
    const t0 = performance.now();
    await sql`insert into customers (id, status, lifetime_value, version, state, created_at, updated_at)
      select 'c' || i, 'active', (random() * 5000)::float8, 1,
        jsonb_build_object('id', 'c' || i, 'status', 'active', 'externalIds', '{}'::jsonb, 'identities', '[]'::jsonb, 'profile', '{}'::jsonb,
          'metrics', jsonb_build_object('lifetimeValue', jsonb_build_object('value', 1000, 'asOf', now(), 'source', 'bench')),
          'influence', '{}'::jsonb, 'activity', jsonb_build_object('counts', '{}'::jsonb, 'last', '{}'::jsonb, 'recent', '[]'::jsonb),
          'version', 1, 'createdAt', now(), 'updatedAt', now()),
        now(), now()
      from generate_series(1, ${CUSTOMERS}::int) i`.execute(db);
    await sql`insert into customer_activity (id, customer_id, kind, at, data, recorded_at, recorded_by)
      select 'a' || i || '-' || j || '-' || k, 'c' || i, k, now() - (j * (10 + i % 50)) * interval '1 day' - random() * interval '1 day', '{}', now(), 'bench'
      from generate_series(1, ${CUSTOMERS}::int) i, generate_series(1, ${EVENTS_PER}::int) j, unnest(array['purchase', 'login']) k`.execute(db);
    await sql`analyze`.execute(db);
    const seedSeconds = (performance.now() - t0) / 1000;
    const activityRows = CUSTOMERS * EVENTS_PER * 2;

    const r0 = performance.now();
    const written = await refreshPopulationLatency(db, ['purchase'], 10);
    const refreshMs = performance.now() - r0;

    // The shipped rule (retention-outreach) as the definitions table holds it.
    const template = { key: 'retention-outreach', version: 1, deviation: { kinds: ['purchase'], k: 1.25, minEvents: 3, minValue: 500 } };
    await sql`insert into definitions (kind, key, version, hash, source, body) values ('template', 'retention-outreach', 1, 'bench', 'file', ${JSON.stringify(template)})`.execute(db);

    const time = async (op: (i: number) => Promise<void>) => {
      const latencies: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const s = performance.now();
        await op(i);
        latencies.push(performance.now() - s);
      }
      latencies.sort((a, b) => a - b);
      return { p50Ms: round(percentile(latencies, 50), 2), p99Ms: round(percentile(latencies, 99), 2) };
    };
    const record = (i: number, kind = 'purchase') =>
      db.transaction().execute((trx) =>
        applyCustomerCommand(trx, {
          customerId: `c${1 + ((i * 7919) % CUSTOMERS)}`,
          command: { type: 'customer.record_activity', activities: [{ kind, at: new Date(Date.now() - 60_000).toISOString(), amount: 10 }] },
          actor,
        }),
      );
    // A kind no rule reads: the command plus one rules read (the baseline).
    const baseline = await time(async (i) => void (await record(i, 'visit')));
    const withRearm = await time(async (i) => void (await record(i)));
    const rearmOnly = await time(async (i) => {
      await db.transaction().execute(async (trx) => {
        const row = await trx.selectFrom('customers').select('state').where('id', '=', `c${1 + ((i * 104729) % CUSTOMERS)}`).forUpdate().executeTakeFirstOrThrow();
        await rearmCustomerDeviation(trx, row.state as CustomerState, ['purchase']);
      });
    });
    const result = {
      customers: CUSTOMERS,
      activityRows,
      seedSeconds: round(seedSeconds, 1),
      latencyRefreshMs: round(refreshMs, 0),
      latencyRowsWritten: written,
      recordActivityNoRuleReads: baseline,
      recordActivityWithRearm: withRearm,
      rearmAloneInItsTransaction: rearmOnly,
    };
    console.log(`L_n refresh over ${activityRows} activity rows (${CUSTOMERS * EVENTS_PER} purchases): ${round(refreshMs, 0)} ms`);
    console.log(`record-activity command, a kind no rule reads: p50 ${baseline.p50Ms} ms, p99 ${baseline.p99Ms} ms`);
    console.log(`record-activity command incl. re-arm: p50 ${withRearm.p50Ms} ms, p99 ${withRearm.p99Ms} ms; re-arm alone (lock + rules + series + cancel/insert): p50 ${rearmOnly.p50Ms} ms`);
    console.log(JSON.stringify(result));
  } finally {
    await db.destroy();
    await bench.drop();
  }
}

await main();
