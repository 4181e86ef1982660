import { sql, type Kysely } from 'kysely';

/**
 * Durable timers on customers: the behaviour-deviation trip wire (src/customers/behaviour-deviation.ts)
 * is a row per customer and template, due at the customer's expected-next-activity time.
 *
 * A table of its own rather than a nullable `timers.case_id`: a case timer is fired in batches under
 * the case lock by the engine and marked fired by the statement that writes its case; a customer
 * timer is fired by a customer command under the customer lock and may open a case. Sharing the
 * table would put a `case_id is null` branch into every case-timer statement on the hot path
 * (bench:timers) for a timer that fires once per customer per buying cycle. The relay, the job id
 * = row id rule and the reconciler are the same (relay/customer-timer-relay.ts).
 *
 * - At most one pending trip wire per (customer, template): re-arming cancels the old row and
 *   inserts the new one in the transaction that recorded the activity; the partial unique index
 *   makes a second pending row impossible even if two writers raced past the customer lock.
 * - `basis` keeps what the trip wire counted from (last activity time, events, mean gap, k), which
 *   the firing checks again and the case file shows.
 * - No foreign key to customers: rows are only written by the customer's own commands (the same
 *   reasoning as the journal's, migration 0007), and a merged-away customer's rows are cancelled.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('customer_timers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('customer_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('deviation')`))
    .addColumn('template_key', 'text', (c) => c.notNull())
    .addColumn('due_at', 'timestamptz', (c) => c.notNull())
    .addColumn('basis', 'jsonb', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending').check(sql`status in ('pending', 'fired', 'cancelled')`))
    .addColumn('outcome', 'text')
    .addColumn('case_id', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('settled_at', 'timestamptz')
    .execute();
  await sql`create unique index customer_timers_one_pending on customer_timers (customer_id, kind, template_key) where status = 'pending'`.execute(db);
  // The reconciler pages pending timers by (due_at, id), like case timers.
  await sql`create index customer_timers_pending_due on customer_timers (due_at, id) where status = 'pending'`.execute(db);
  await db.schema.createIndex('customer_timers_customer').on('customer_timers').columns(['customer_id', 'created_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('customer_timers').execute();
}
