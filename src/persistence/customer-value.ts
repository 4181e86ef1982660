/**
 * The customer value the priority score reads: the customers store's percentiles, with a value
 * the customer does not have (no lifetime or referral value recorded) as unknown (null) rather
 * than the bottom rank, so the score counts it as the median (signals/priority-score.ts).
 */
import { sql, type Kysely } from 'kysely';
import type { CustomerValue } from '../cases/types.js';
import { valuePercentiles } from './customer-store.js';
import type { Database } from './schema.js';

export async function customerValueOf(db: Kysely<Database>, customerId: string): Promise<CustomerValue | null> {
  const percentiles = await valuePercentiles(db, customerId);
  if (!percentiles) return null;
  // A merged customer's values are its survivor's, as in valuePercentiles.
  const { rows } = await sql<{ lv: unknown; rv: unknown }>`
    select t.lifetime_value as lv, t.referral_value as rv
    from customers c join customers t on t.id = coalesce(c.merged_into, c.id)
    where c.id = ${customerId}`.execute(db);
  const row = rows[0];
  return { clv: row?.lv == null ? null : percentiles.clv, crv: row?.rv == null ? null : percentiles.crv };
}
