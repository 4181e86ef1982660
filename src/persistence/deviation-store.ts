/**
 * What a behaviour-deviation trip wire reads, inside the customer's transaction: the customer's
 * series of activity kinds (count, first and last time: enough for the own mean gap), and whether
 * a case of the rule's template is already open for the customer.
 */
import { sql, type Kysely } from 'kysely';
import type { ActivitySeries } from '../customers/behaviour-deviation.js';
import type { DeviationSpec } from '../templates/deviation-schema.js';
import type { Database } from './schema.js';

/** One index range scan (`customer_activity_kind`): the customer's events of `kinds`. */
export async function loadActivitySeries(db: Kysely<Database>, customerId: string, kinds: readonly string[]): Promise<ActivitySeries> {
  const { rows } = await sql<{ count: number; first_at: Date | string | null; last_at: Date | string | null }>`
    select count(*)::int as count, min(at) as first_at, max(at) as last_at
    from customer_activity
    where customer_id = ${customerId} and kind = any(${[...kinds]}::text[])`.execute(db);
  const row = rows[0];
  if (!row || row.count === 0 || row.first_at === null || row.last_at === null) return { count: 0 };
  return { count: row.count, firstAt: new Date(row.first_at).getTime(), lastAt: new Date(row.last_at).getTime() };
}

/**
 * An open (or on hold) case of the template that references the customer. Read under the
 * customer's row lock by the only writer that opens deviation cases, so two firings cannot both
 * see none.
 */
export async function findOpenCaseOfTemplate(db: Kysely<Database>, customerId: string, templateKey: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('cases')
    .select('id')
    .where('customer_id', '=', customerId)
    .where('template_key', '=', templateKey)
    .where('status', 'in', ['open', 'on_hold'])
    .limit(1)
    .executeTakeFirst();
  return row?.id;
}

/**
 * The `deviation:` rules of the latest version of every stored template that has one. Read from
 * `definitions` (a small table) in the customer's transaction, so every process re-arms by the
 * same published rules without a catalog handed to every customer command.
 */
export async function loadDeviationRules(db: Kysely<Database>): Promise<{ templateKey: string; spec: DeviationSpec }[]> {
  const { rows } = await sql<{ key: string; deviation: DeviationSpec | null }>`
    select distinct on (key) key, body->'deviation' as deviation
    from definitions where kind = 'template'
    order by key, version desc`.execute(db);
  return rows.flatMap((r) => (r.deviation ? [{ templateKey: r.key, spec: r.deviation }] : []));
}
