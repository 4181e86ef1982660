/**
 * The cost of `valuePercentiles(db, customerId)` (persistence/customer-store.ts) over a customer
 * base of N customers (default 100,000; `BENCH_CUSTOMERS`): customers with log-normal lifetime and
 * referral values are inserted straight into a throwaway database, then the percentiles of random
 * customers are read one after another. Prints one JSON line.
 *
 *   npm run bench:customers
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { migrateToLatest } from '../src/persistence/migrate.js';
import { valuePercentiles } from '../src/persistence/customer-store.js';
import type { Database } from '../src/persistence/schema.js';
import { createBenchDatabase, percentile, round } from './support.js';

const N = Number(process.env.BENCH_CUSTOMERS ?? 100_000);
const READS = Number(process.env.BENCH_READS ?? 2_000);
const serverUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const bench = await createBenchDatabase(serverUrl);
const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: bench.url, max: 2 }) }) });
try {
  await migrateToLatest(db as unknown as Kysely<unknown>);
  const loadStarted = performance.now();
  // Log-normal values (most customers small, a few large), a tenth without a referral value.
  await sql`
    insert into customers (id, status, lifetime_value, referral_value, version, state, created_at, updated_at)
    select 'c' || g, 'active',
      round((exp(random() * 3 + random() * 3 + random() * 3))::numeric, 2)::float8,
      case when random() < 0.1 then null else round((exp(random() * 6))::numeric, 2)::float8 end,
      1, jsonb_build_object('id', 'c' || g), now(), now()
    from generate_series(1, ${N}) g`.execute(db);
  await sql`analyze customers`.execute(db);
  const loadSeconds = (performance.now() - loadStarted) / 1000;

  const latencies: number[] = [];
  for (let i = 0; i < READS; i++) {
    const id = `c${1 + Math.floor(Math.random() * N)}`;
    const t0 = performance.now();
    const p = await valuePercentiles(db, id);
    latencies.push(performance.now() - t0);
    if (!p || p.clv < 0 || p.clv > 1) throw new Error(`bad percentiles for ${id}: ${JSON.stringify(p)}`);
  }
  latencies.sort((a, b) => a - b);
  // The same loop over a primary-key read of the customer row: what one round trip costs here and now.
  const baseline: number[] = [];
  for (let i = 0; i < READS; i++) {
    const t0 = performance.now();
    await db.selectFrom('customers').select('lifetime_value').where('id', '=', `c${1 + Math.floor(Math.random() * N)}`).executeTakeFirst();
    baseline.push(performance.now() - t0);
  }
  baseline.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      bench: 'customer-value-percentiles',
      customers: N,
      reads: READS,
      load_seconds: round(loadSeconds, 2),
      p50_ms: round(percentile(latencies, 50), 2),
      p99_ms: round(percentile(latencies, 99), 2),
      mean_ms: round(latencies.reduce((a, b) => a + b, 0) / latencies.length, 2),
      pk_read_p50_ms: round(percentile(baseline, 50), 2),
      pk_read_p99_ms: round(percentile(baseline, 99), 2),
    }),
  );
} finally {
  await db.destroy();
  await bench.drop();
}
