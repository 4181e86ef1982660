/**
 * Finds the case an inbound message is about, by what the sending system knows it by: the
 * customer id (a cases column) or an external reference / customer handle (`case_keys`, filled
 * when the case is opened; migration 0005). Only active cases (open or on hold) count: a message
 * about a closed case does not reopen it. Several matches: the newest.
 */
import { sql, type Kysely } from 'kysely';
import type { Correlation } from '../inbound/mapping.js';
import type { Database } from './schema.js';

const ACTIVE = ['open', 'on_hold'];

export async function findActiveCaseId(db: Kysely<Database>, correlation: Correlation): Promise<string | undefined> {
  if (correlation.by === 'customer_id') {
    const row = await db
      .selectFrom('cases')
      .select('id')
      .where('customer_id', '=', correlation.value)
      .where('status', 'in', ACTIVE)
      .orderBy('opened_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row?.id;
  }
  const kind = correlation.by === 'external_ref' ? `ref:${correlation.ref!}` : 'handle';
  const row = await db
    .selectFrom('case_keys as k')
    .innerJoin('cases as c', 'c.id', 'k.case_id')
    .select('c.id')
    .where('k.kind', '=', kind)
    .where('k.value', '=', correlation.value)
    .where('c.status', 'in', ACTIVE)
    .orderBy('c.opened_at', 'desc')
    .orderBy('c.id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.id;
}

/**
 * findActiveCaseId for many correlations at once (a batch of inbox rows): one statement per kind
 * of key (customer id; references and handles), each the same lookup per correlation (a lateral
 * join, so each uses the index the single lookup uses). Returns the case id per index in
 * `correlations`; absent: no active case.
 */
export async function findActiveCaseIds(db: Kysely<Database>, correlations: Correlation[]): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  const byCustomer = correlations.flatMap((c, i) => (c.by === 'customer_id' ? [{ i, value: c.value }] : []));
  const byKey = correlations.flatMap((c, i) => (c.by === 'customer_id' ? [] : [{ i, kind: c.by === 'external_ref' ? `ref:${c.ref!}` : 'handle', value: c.value }]));
  const lookups: Promise<void>[] = [];
  if (byCustomer.length > 0) {
    lookups.push(
      sql<{ i: number; id: string }>`
        select q.i, c.id
        from unnest(${byCustomer.map((c) => c.i)}::int[], ${byCustomer.map((c) => c.value)}::text[]) as q(i, value)
        cross join lateral (
          select id from cases where customer_id = q.value and status = any(${ACTIVE}::text[])
          order by opened_at desc, id desc limit 1
        ) c`
        .execute(db)
        .then((r) => r.rows.forEach((row) => found.set(row.i, row.id))),
    );
  }
  if (byKey.length > 0) {
    lookups.push(
      sql<{ i: number; id: string }>`
        select q.i, c.id
        from unnest(${byKey.map((c) => c.i)}::int[], ${byKey.map((c) => c.kind)}::text[], ${byKey.map((c) => c.value)}::text[]) as q(i, kind, value)
        cross join lateral (
          select c.id from case_keys k join cases c on c.id = k.case_id
          where k.kind = q.kind and k.value = q.value and c.status = any(${ACTIVE}::text[])
          order by c.opened_at desc, c.id desc limit 1
        ) c`
        .execute(db)
        .then((r) => r.rows.forEach((row) => found.set(row.i, row.id))),
    );
  }
  await Promise.all(lookups);
  return found;
}

/** A threading key resolved to a value: `ref` and `identity` are `case_keys`, `customer` the cases column. */
export type ThreadLookup = { kind: 'ref'; ref: string; value: string } | { kind: 'customer'; customerId: string };

/**
 * The newest active case a threading key finds, optionally only of one template (an `open`
 * rule threads into its own case type only). Same index paths as findActiveCaseId.
 */
export async function findThreadCase(db: Kysely<Database>, lookup: ThreadLookup, templateKey?: string): Promise<string | undefined> {
  if (lookup.kind === 'customer') {
    let q = db.selectFrom('cases').select('id').where('customer_id', '=', lookup.customerId).where('status', 'in', ACTIVE);
    if (templateKey !== undefined) q = q.where('template_key', '=', templateKey);
    const row = await q.orderBy('opened_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
    return row?.id;
  }
  let q = db
    .selectFrom('case_keys as k')
    .innerJoin('cases as c', 'c.id', 'k.case_id')
    .select('c.id')
    .where('k.kind', '=', `ref:${lookup.ref}`)
    .where('k.value', '=', lookup.value)
    .where('c.status', 'in', ACTIVE);
  if (templateKey !== undefined) q = q.where('c.template_key', '=', templateKey);
  const row = await q.orderBy('c.opened_at', 'desc').orderBy('c.id', 'desc').limit(1).executeTakeFirst();
  return row?.id;
}
