import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export async function findTimer(db: Kysely<Database>, id: string) {
  return db.selectFrom('timers').select(['id', 'case_id', 'status', 'due_at']).where('id', '=', id).executeTakeFirst();
}

/** Pending timers in due order, keyset-paged by (due_at, id). */
export async function listPendingTimers(db: Kysely<Database>, after: { dueAt: Date; id: string } | undefined, limit: number) {
  let query = db
    .selectFrom('timers')
    .select(['id', 'case_id', 'due_at'])
    .where('status', '=', 'pending')
    .orderBy('due_at')
    .orderBy('id')
    .limit(limit);
  if (after) {
    query = query.where((eb) =>
      eb.or([eb('due_at', '>', after.dueAt), eb.and([eb('due_at', '=', after.dueAt), eb('id', '>', after.id)])]),
    );
  }
  return query.execute();
}
