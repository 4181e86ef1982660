import { sql, type Kysely } from 'kysely';

/**
 * Partial indexes that keep GET /metrics cheap (persistence/ops-snapshot.ts): the oldest pending
 * delivery, dead letters and failed inbox rows are read from indexes that hold only those rows,
 * so a scrape costs the same with ten deliveries or ten million delivered ones.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index webhook_deliveries_pending_age on webhook_deliveries (created_at) where status = 'pending'`.execute(db);
  await sql`create index webhook_deliveries_dead on webhook_deliveries (created_at) where status = 'dead'`.execute(db);
  await sql`create index inbox_failed on inbox (seq) where status = 'failed'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists webhook_deliveries_pending_age`.execute(db);
  await sql`drop index if exists webhook_deliveries_dead`.execute(db);
  await sql`drop index if exists inbox_failed`.execute(db);
}
