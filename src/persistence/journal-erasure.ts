/**
 * The one way to change journal rows. The journal is append-only in the database (migration
 * 0008: a trigger refuses UPDATE, DELETE and TRUNCATE of `journal`), except inside a transaction
 * that has set `tessera.journal_erasure = 'on'` with `set local` — which this function does, so
 * the setting can never outlive the transaction (a pooled connection goes back clean).
 *
 * Reserved for an erasure feature (e.g. removing a data subject's personal data from the case
 * history); nothing in Tessera calls it today. Whoever does should journal the erasure itself.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';

export async function withJournalErasure<T>(db: Kysely<Database>, erase: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    await sql`set local tessera.journal_erasure = 'on'`.execute(trx);
    return erase(trx);
  });
}
