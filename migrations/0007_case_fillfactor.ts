import { sql, type Kysely } from 'kysely';

/**
 * Every command rewrites its case row, but rarely an indexed column (timer firings and most
 * events change only the state, version and updated_at). Free room on each page lets Postgres
 * keep the new row version on the same page without touching the seven case indexes (a HOT
 * update). Applies to pages written from now on.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table cases set (fillfactor = 75)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table cases reset (fillfactor)`.execute(db);
}
