/**
 * Finds the case an inbound message is about, by what the sending system knows it by. Each
 * lookup is served by an index (migrations 0002 and 0005) and sees only active cases (open or
 * on hold): a message about a closed case does not reopen it. Several matches: the newest.
 */
import { sql, type Kysely } from 'kysely';
import type { Correlation } from '../inbound/mapping.js';
import type { Database } from './schema.js';

const ACTIVE = ['open', 'on_hold'];

export async function findActiveCaseId(db: Kysely<Database>, correlation: Correlation): Promise<string | undefined> {
  let q = db.selectFrom('cases').select('id').where('status', 'in', ACTIVE).orderBy('opened_at', 'desc').orderBy('id', 'desc').limit(1);
  switch (correlation.by) {
    case 'customer_id':
      q = q.where('customer_id', '=', correlation.value);
      break;
    case 'customer_handle':
      q = q.where(sql<string>`state #>> '{customer,handle}'`, '=', correlation.value);
      break;
    case 'external_ref':
      q = q.where(sql<boolean>`state -> 'externalRefs' @> ${JSON.stringify({ [correlation.ref!]: correlation.value })}::jsonb`);
      break;
  }
  return (await q.executeTakeFirst())?.id;
}
