/**
 * Customer timers (migration 0016): the behaviour-deviation trip wire of a customer, one pending
 * row per (customer, template). Written only inside the customer's own transactions; the relay
 * hands new rows to the queue after commit and the reconciler re-arms pending ones from here.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';
import type { PendingTimersCursor, PendingTimersWindow } from './timer-store.js';

type Db = Kysely<Database> | Transaction<Database>;

/** What the trip wire counted from, stored on the row and copied into the case file when it opens a case. */
export interface DeviationBasis {
  /** ISO time of the last activity of the rule's kinds. */
  lastAt: string;
  events: number;
  basis: 'own' | 'population';
  /** The own mean gap (or L_n), in ms. */
  meanGapMs: number;
  k: number;
  kinds: string[];
}

/** A new trip wire to write: its id is also its job id (no `:`, not all digits). */
export interface DeviationTimerSpec {
  id: string;
  templateKey: string;
  dueAt: string;
  basis: DeviationBasis;
}

/** A written row, as the relay hands it to the queue. */
export interface ArmedCustomerTimer {
  id: string;
  customerId: string;
  dueAt: string;
}

/**
 * Re-arms the customer's trip wires for `templateKeys`: every pending row of those templates is
 * cancelled and `timers` (a subset, the templates whose rule still arms) are inserted — one
 * statement. The insert waits for the cancellation (it reads its count), so the partial unique
 * index (one pending row per customer and template) sees the old row gone. Call it under the
 * customer's row lock, in the transaction that recorded the activity.
 */
export async function rearmDeviationTimers(
  trx: Kysely<Database>,
  customerId: string,
  templateKeys: string[],
  timers: DeviationTimerSpec[],
): Promise<{ cancelled: string[]; armed: ArmedCustomerTimer[] }> {
  if (templateKeys.length === 0) return { cancelled: [], armed: [] };
  const rows = JSON.stringify(timers.map((t) => ({ id: t.id, template_key: t.templateKey, due_at: t.dueAt, basis: t.basis })));
  const { rows: result } = await sql<{ cancelled: string[] | null; armed: { id: string; due_at: string }[] | null }>`
    with cancelled as (
      update customer_timers set status = 'cancelled', settled_at = statement_timestamp()
      where customer_id = ${customerId} and kind = 'deviation' and status = 'pending' and template_key = any(${templateKeys}::text[])
      returning id
    ), armed as (
      insert into customer_timers (id, customer_id, kind, template_key, due_at, basis)
      select r.id, ${customerId}, 'deviation', r.template_key, r.due_at, r.basis
      from jsonb_to_recordset(${rows}::jsonb) as r(id text, template_key text, due_at timestamptz, basis jsonb)
      where (select count(*) from cancelled) >= 0
      returning id, due_at
    )
    select (select array_agg(id) from cancelled) as cancelled,
           (select jsonb_agg(jsonb_build_object('id', id, 'due_at', due_at)) from armed) as armed`.execute(trx);
  const row = result[0];
  return {
    cancelled: row?.cancelled ?? [],
    armed: (row?.armed ?? []).map((a) => ({ id: a.id, customerId, dueAt: new Date(a.due_at).toISOString() })),
  };
}

/** Cancels every pending trip wire of a customer (merged away, erased). Returns the cancelled ids. */
export async function cancelCustomerTimers(trx: Kysely<Database>, customerId: string): Promise<string[]> {
  const rows = await trx
    .updateTable('customer_timers')
    .set({ status: 'cancelled', settled_at: sql<Date>`statement_timestamp()` })
    .where('customer_id', '=', customerId)
    .where('status', '=', 'pending')
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

export interface CustomerTimerRow {
  id: string;
  customerId: string;
  templateKey: string;
  status: string;
  dueAt: Date;
  basis: DeviationBasis;
}

/** Locks the timer row (its firing settles it in this transaction). */
export async function lockCustomerTimer(trx: Kysely<Database>, id: string): Promise<CustomerTimerRow | undefined> {
  const row = await trx
    .selectFrom('customer_timers')
    .select(['id', 'customer_id', 'template_key', 'status', 'due_at', 'basis'])
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
  return row
    ? { id: row.id, customerId: row.customer_id, templateKey: row.template_key, status: row.status, dueAt: new Date(row.due_at), basis: row.basis as DeviationBasis }
    : undefined;
}

export async function findCustomerTimer(db: Db, id: string) {
  return db.selectFrom('customer_timers').select(['id', 'customer_id', 'status', 'due_at']).where('id', '=', id).executeTakeFirst();
}

/** Marks a pending timer fired with what its firing did (`opened` or why not) and the case it opened. */
export async function settleCustomerTimer(trx: Kysely<Database>, id: string, outcome: string, caseId?: string): Promise<void> {
  await trx
    .updateTable('customer_timers')
    .set({ status: 'fired', outcome, case_id: caseId ?? null, settled_at: sql<Date>`statement_timestamp()` })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .execute();
}

/**
 * Pending customer timers in due order, keyset-paged by (due_at, id): the same listing, cursor and
 * database-clock window as case timers (timer-store.ts `listPendingTimers`).
 */
export async function listPendingCustomerTimers(db: Db, after: PendingTimersCursor | undefined, limit: number, window: PendingTimersWindow = {}) {
  const now = window.at === undefined ? sql<Date>`statement_timestamp()` : sql<Date>`${window.at.toISOString()}::timestamptz`;
  const overdue =
    window.overdueAfterMs === undefined ? sql<boolean>`false` : sql<boolean>`due_at < ${now} - make_interval(secs => ${window.overdueAfterMs / 1000})`;
  let query = db
    .selectFrom('customer_timers')
    .select(['id', 'customer_id', 'due_at', sql<string>`due_at::text`.as('due_key'), overdue.as('overdue')])
    .where('status', '=', 'pending')
    .orderBy('due_at')
    .orderBy('id')
    .limit(limit);
  if (after) query = query.where(sql<boolean>`(due_at, id) > (${after.dueAt}::timestamptz, ${after.id})`);
  if (window.dueWithinMs !== undefined) query = query.where(sql<boolean>`due_at < ${now} + make_interval(secs => ${window.dueWithinMs / 1000})`);
  return query.execute();
}
