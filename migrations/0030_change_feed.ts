import { sql, type Kysely } from 'kysely';

/**
 * The change feed's order (src/live/): every journal row gets the id of the transaction that
 * wrote it (`tx`, `pg_current_xact_id()`) and an insertion sequence (`seq`). A reader takes rows
 * in `(tx, seq)` order and only those whose transaction is older than every transaction still
 * running (`tx < pg_snapshot_xmin(pg_current_snapshot())`): those have all committed, and no row
 * can appear later below the last one read. So a reader that remembers its last `(tx, seq)` misses
 * nothing and needs no lock on the write path (LISTEN/NOTIFY would take a global lock at commit).
 * Both columns are filled by defaults: the command statement writes the journal as before.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table journal
      add column tx xid8 not null default pg_current_xact_id(),
      add column seq bigint generated always as identity`.execute(db);
  await sql`create index journal_feed_order on journal (tx, seq)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index journal_feed_order`.execute(db);
  await sql`alter table journal drop column seq, drop column tx`.execute(db);
}
