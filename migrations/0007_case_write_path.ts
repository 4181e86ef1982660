import { sql, type Kysely } from 'kysely';

/**
 * The write path every command takes, measured with `npm run bench:timers`:
 * - Every command rewrites its case row, but rarely an indexed column (timer firings and most
 *   events change only the state, version and updated_at). Free room on each page lets Postgres
 *   keep the new row version on the same page without touching the seven case indexes (a HOT
 *   update). Applies to pages written from now on.
 * - The journal's foreign key to cases cost a lookup and a row lock per journal row (a firing
 *   writes several) — about a sixth of Postgres's time per timer. It guarded nothing the write
 *   does not already guarantee: journal rows are only ever inserted by the statement that writes
 *   their case (`saveDecisions`, `where case_id in (select id from written)`), and cases are
 *   never deleted.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table cases set (fillfactor = 75)`.execute(db);
  await sql`alter table journal drop constraint journal_case_id_fkey`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table journal add constraint journal_case_id_fkey foreign key (case_id) references cases (id)`.execute(db);
  await sql`alter table cases reset (fillfactor)`.execute(db);
}
