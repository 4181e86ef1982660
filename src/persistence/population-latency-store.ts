/**
 * The population latency L_n (behaviour-deviation.ts), cached in `population_latency`
 * (migration 0017). Reading it is one primary-key lookup; computing it is one aggregate over the
 * activity history of the series' kinds (a window function per customer, using the index
 * `customer_activity_kind (customer_id, kind, at desc)`): linear in the number of activity rows
 * of those kinds, which is why it runs in the worker on a period (and when the cache is empty),
 * never in a customer's command.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

type Db = Kysely<Database>;

/** The cache key of a series: its kinds, sorted and joined. */
export const seriesKey = (kinds: readonly string[]) => [...kinds].sort().join(',');

/** L_n in ms for a series with `n` events so far, if computed (and computed from at least one customer). */
export async function readPopulationLatency(db: Kysely<Database>, kinds: readonly string[], n: number): Promise<number | undefined> {
  const row = await db
    .selectFrom('population_latency')
    .select('mean_ms')
    .where('kinds', '=', seriesKey(kinds))
    .where('n', '=', n)
    .executeTakeFirst();
  return row ? Number(row.mean_ms) : undefined;
}

/**
 * Recomputes L_1..L_maxN for a series from the whole activity history and replaces the cached
 * rows, in one transaction. Returns the number of n values written. Several workers may run it at
 * once: a transaction-scoped advisory lock per series lets one compute while the others skip.
 */
export async function refreshPopulationLatency(db: Db, kinds: readonly string[], maxN: number): Promise<number | undefined> {
  const key = seriesKey(kinds);
  return db.transaction().execute(async (trx) => {
    const { rows: lock } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(hashtext('tessera.population_latency'), hashtext(${key})) as locked`.execute(trx);
    if (!lock[0]?.locked) return undefined;
    await trx.deleteFrom('population_latency').where('kinds', '=', key).execute();
    const { rows } = await sql<{ n: number }>`
      insert into population_latency (kinds, n, mean_ms, customers, computed_at)
      select ${key}, n, avg(extract(epoch from next_at - at) * 1000), count(*), statement_timestamp()
      from (
        select at,
               row_number() over w as n,
               lead(at) over w as next_at
        from customer_activity
        where kind = any(${[...kinds]}::text[])
        window w as (partition by customer_id order by at, id)
      ) e
      where next_at is not null and n <= ${maxN}
      group by n
      returning n`.execute(trx);
    return rows.length;
  });
}

/** When the series' cache was last computed (undefined: never). */
export async function populationLatencyAge(db: Db, kinds: readonly string[]): Promise<Date | undefined> {
  const row = await db
    .selectFrom('population_latency')
    .select((eb) => eb.fn.max('computed_at').as('at'))
    .where('kinds', '=', seriesKey(kinds))
    .executeTakeFirst();
  return row?.at ? new Date(row.at) : undefined;
}
