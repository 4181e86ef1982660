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

/** Which pending timers a reconciler pass lists, by the database's clock (or `at`, a test's fixed clock). */
export interface PendingTimersWindow {
  /** Only timers due before now + this (absent: all). */
  dueWithinMs?: number | undefined;
  /** Rows due before now - this are flagged `overdue` (absent: none). */
  overdueAfterMs?: number | undefined;
  /** Instead of the statement's own time. */
  at?: Date | undefined;
}

/**
 * Pending timers in due order, keyset-paged by (due_at, id). The cursor keeps the exact
 * timestamp: paging from a millisecond-truncated Date would list sub-millisecond rows again, and
 * loop forever on a page full of them. "Now" is the database's (`statement_timestamp()`), so a
 * worker with a skewed clock neither re-arms timers that are not due nor misses ones that are.
 */
export async function listPendingTimers(db: Kysely<Database>, after: PendingTimersCursor | undefined, limit: number, window: PendingTimersWindow = {}) {
  const now = window.at === undefined ? sql<Date>`statement_timestamp()` : sql<Date>`${window.at.toISOString()}::timestamptz`;
  const overdue =
    window.overdueAfterMs === undefined
      ? sql<boolean>`false`
      : sql<boolean>`due_at < ${now} - make_interval(secs => ${window.overdueAfterMs / 1000})`;
  let query = db
    .selectFrom('timers')
    .select(['id', 'case_id', 'due_at', sql<string>`due_at::text`.as('due_key'), overdue.as('overdue')])
    .where('status', '=', 'pending')
    .orderBy('due_at')
    .orderBy('id')
    .limit(limit);
  if (after) {
    query = query.where(sql<boolean>`(due_at, id) > (${after.dueAt}::timestamptz, ${after.id})`);
  }
  if (window.dueWithinMs !== undefined) {
    query = query.where(sql<boolean>`due_at < ${now} + make_interval(secs => ${window.dueWithinMs / 1000})`);
  }
  return query.execute();
}
