import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

export async function findTimer(db: Kysely<Database>, id: string) {
  return db.selectFrom('timers').select(['id', 'case_id', 'status', 'due_at']).where('id', '=', id).executeTakeFirst();
}

/** Where a page of pending timers ended: Postgres' own text of `due_at` (microseconds; a JS Date keeps ms). */
export interface PendingTimersCursor {
  dueAt: string;
  id: string;
}

/**
 * Pending timers in due order, keyset-paged by (due_at, id). The cursor keeps the exact
 * timestamp: paging from a millisecond-truncated Date would list sub-millisecond rows again, and
 * loop forever on a page full of them. `dueBefore` leaves out timers due later.
 */
export async function listPendingTimers(db: Kysely<Database>, after: PendingTimersCursor | undefined, limit: number, dueBefore?: Date) {
  let query = db
    .selectFrom('timers')
    .select(['id', 'case_id', 'due_at', sql<string>`due_at::text`.as('due_key')])
    .where('status', '=', 'pending')
    .orderBy('due_at')
    .orderBy('id')
    .limit(limit);
  if (after) {
    query = query.where(sql<boolean>`(due_at, id) > (${after.dueAt}::timestamptz, ${after.id})`);
  }
  if (dueBefore) query = query.where('due_at', '<', dueBefore);
  return query.execute();
}
