import type { Kysely } from 'kysely';

/**
 * Runs `fn` in a transaction: `db`'s own when it is one already (a store function called inside
 * a route's idempotent write), else a new one. Kysely refuses to nest `transaction()`.
 */
export function inTransaction<DB, T>(db: Kysely<DB>, fn: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn);
}
