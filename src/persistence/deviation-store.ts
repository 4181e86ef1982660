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
 * The `deviation:` rules of the latest version of every stored template that has one, together
 * with the customer's series for each rule's kinds, in one round trip: what re-arming after an
 * activity reads. Rules come from `definitions` (a small table), so every process re-arms by the
 * same published rules without a catalog handed to every customer command. `kinds` filters to rules over any of
 * them (absent: every rule).
 */
export async function loadRulesWithSeries(
  db: Kysely<Database>,
  customerId: string,
  kinds?: readonly string[],
): Promise<{ templateKey: string; spec: DeviationSpec; series: ActivitySeries }[]> {
  const { rows } = await sql<{ key: string; deviation: DeviationSpec; count: number; first_at: Date | string | null; last_at: Date | string | null }>`
    select d.key, d.deviation, s.count, s.first_at, s.last_at
    from (
      select distinct on (key) key, body->'deviation' as deviation
      from definitions where kind = 'template'
      order by key, version desc
    ) d
    cross join lateral (
      select count(*)::int as count, min(a.at) as first_at, max(a.at) as last_at
      from customer_activity a
      where a.customer_id = ${customerId}
        and a.kind = any(array(select jsonb_array_elements_text(d.deviation->'kinds')))
    ) s
    where jsonb_typeof(d.deviation) = 'object'
      and (${kinds === undefined}::boolean or d.deviation->'kinds' ?| ${kinds ? [...kinds] : []}::text[])
    order by d.key`.execute(db);
  return rows.map((r) => ({
    templateKey: r.key,
    spec: r.deviation,
    series:
      r.count === 0 || r.first_at === null || r.last_at === null
        ? { count: 0 }
        : { count: r.count, firstAt: new Date(r.first_at).getTime(), lastAt: new Date(r.last_at).getTime() },
  }));
}
