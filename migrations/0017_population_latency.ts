import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * The population latency L_n (Jim Novo): mean time between customers' n-th and (n+1)-th event of
 * a series of activity kinds. Read when a short history arms a trip wire (`fallback: population`),
 * i.e. on an activity — so it is a cached row, refreshed by one aggregate query over the activity
 * history (persistence/population-latency-store.ts), never computed per activity.
 * `kinds` is the sorted, comma-joined list of kinds of the series (`purchase`, `login,purchase`).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('population_latency')
    .addColumn('kinds', 'text', (c) => c.notNull())
    .addColumn('n', 'integer', (c) => c.notNull())
    .addColumn('mean_ms', 'double precision', (c) => c.notNull())
    .addColumn('customers', 'integer', (c) => c.notNull())
    .addColumn('computed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('population_latency_pk', ['kinds', 'n'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('population_latency').execute();
}
