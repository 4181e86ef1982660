import { sql, type Kysely } from 'kysely';

/**
 * Value percentiles without counting the customer base on every read: one row per metric
 * (`lifetime_value`, `referral_value`) with 1,001 cutpoints (every 0.1 %) over the active
 * customers, recomputed when older than a few minutes by whichever reader finds it stale (one at a
 * time, under an advisory lock). A percentile is then a binary search in them (`width_bucket`). Small bases
 * (below 5,000 customers) are ranked exactly instead. See persistence/customer-store.ts
 * `valuePercentiles`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('customer_value_quantiles')
    .addColumn('metric', 'text', (c) => c.primaryKey())
    .addColumn('population', 'integer', (c) => c.notNull())
    .addColumn('cutpoints', sql`float8[]`, (c) => c.notNull())
    .addColumn('computed_at', 'timestamptz', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('customer_value_quantiles').execute();
}
