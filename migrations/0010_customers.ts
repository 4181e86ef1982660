import { sql, type Kysely } from 'kysely';

/**
 * The customer aggregate (src/customers/), stored like a case: the whole aggregate is one jsonb
 * document on its row (`state`), loaded under a row lock in one round trip; the columns beside it
 * are copies for filtering, sorting and the value percentiles. Written only by the customer
 * commands, in one transaction with:
 *
 * - `customer_identities`: one row per identity (an e-mail, a phone number, a handle on a
 *   channel), stored normalised. **One identity belongs to one customer**: the unique index on
 *   (kind, channel, value) makes a second claim fail in the same transaction (answered 409).
 *   `channel` is '' for e-mails and phone numbers, so the index needs no NULL handling.
 * - `customer_external_ids`: the customer's id in other systems (`{ system: id }`); one external
 *   id belongs to one customer, too.
 * - `customer_activity`: the activity history (purchases, contacts, logins...), many rows per
 *   customer, read newest first by kind; the aggregate keeps only counts, the last time per kind
 *   and a short recent slice.
 * - `customer_journal`: append-only (same trigger rule and erasure switch as the case journal,
 *   migration 0008), with actor and reason.
 * - outbox rows of customer events (`customer.updated`, `customer.merged`...): the outbox gains a
 *   `customer_id`, and `case_id` becomes optional (a customer event belongs to no case).
 *
 * A merged customer stays as a tombstone (`status = 'merged'`, `merged_into`): ids given out
 * keep answering, and point at the survivor.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('customers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('active', 'merged')`))
    .addColumn('merged_into', 'text', (c) => c.references('customers.id'))
    .addColumn('name', 'text')
    .addColumn('segment', 'text')
    .addColumn('tier', 'text')
    .addColumn('lifetime_value', 'float8')
    .addColumn('referral_value', 'float8')
    .addColumn('churn_risk', 'float8')
    .addColumn('last_activity_at', 'timestamptz')
    .addColumn('last_contact_at', 'timestamptz')
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('state', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`alter table customers set (fillfactor = 80)`.execute(db);
  // Keyset listing (newest first) and its filters.
  await db.schema.createIndex('customers_created').on('customers').columns(['created_at desc', 'id desc']).execute();
  await db.schema.createIndex('customers_segment').on('customers').columns(['segment', 'created_at desc', 'id desc']).execute();
  // Value percentiles: a count below a value over the active customers is an index-only range scan.
  await sql`create index customers_clv on customers (lifetime_value) where status = 'active' and lifetime_value is not null`.execute(db);
  await sql`create index customers_crv on customers (referral_value) where status = 'active' and referral_value is not null`.execute(db);

  await db.schema
    .createTable('customer_identities')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('customer_id', 'text', (c) => c.notNull().references('customers.id'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('email', 'phone', 'handle')`))
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('added_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('customer_identities_claim').on('customer_identities').columns(['kind', 'channel', 'value']).unique().execute();
  await db.schema.createIndex('customer_identities_customer').on('customer_identities').columns(['customer_id']).execute();

  await db.schema
    .createTable('customer_external_ids')
    .addColumn('system', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addColumn('customer_id', 'text', (c) => c.notNull().references('customers.id'))
    .addPrimaryKeyConstraint('customer_external_ids_pk', ['system', 'external_id'])
    .execute();
  await db.schema.createIndex('customer_external_ids_customer').on('customer_external_ids').columns(['customer_id']).execute();

  await db.schema
    .createTable('customer_activity')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('customer_id', 'text', (c) => c.notNull().references('customers.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('amount', 'float8')
    .addColumn('ref', 'text')
    .addColumn('channel', 'text')
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('recorded_at', 'timestamptz', (c) => c.notNull())
    .addColumn('recorded_by', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('customer_activity_history').on('customer_activity').columns(['customer_id', 'at desc', 'id desc']).execute();
  await db.schema.createIndex('customer_activity_kind').on('customer_activity').columns(['customer_id', 'kind', 'at desc']).execute();

  await db.schema
    .createTable('customer_journal')
    .addColumn('customer_id', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('idx', 'integer', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('actor_role', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('customer_journal_pk', ['customer_id', 'version', 'idx'])
    .execute();
  await sql`
    create function customer_journal_append_only() returns trigger language plpgsql as $$
    begin
      if coalesce(current_setting('tessera.journal_erasure', true), '') = 'on' then
        return null;
      end if;
      raise exception 'the customer journal is append-only: % of customer_journal rows is refused', tg_op
        using errcode = 'object_not_in_prerequisite_state',
              hint = 'Customer journal rows are the customer history and are never changed. An erasure feature runs '
                  || 'set local tessera.journal_erasure = ''on'' in its own transaction first.';
    end
    $$`.execute(db);
  await sql`
    create trigger customer_journal_append_only before update or delete or truncate on customer_journal
    for each statement execute function customer_journal_append_only()`.execute(db);

  await sql`alter table outbox alter column case_id drop not null, add column customer_id text`.execute(db);
  await sql`alter table outbox add constraint outbox_subject check (case_id is not null or customer_id is not null)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from outbox where case_id is null`.execute(db);
  await sql`alter table outbox drop constraint outbox_subject, drop column customer_id, alter column case_id set not null`.execute(db);
  await sql`drop trigger customer_journal_append_only on customer_journal`.execute(db);
  await sql`drop function customer_journal_append_only()`.execute(db);
  for (const table of ['customer_journal', 'customer_activity', 'customer_external_ids', 'customer_identities', 'customers']) {
    await db.schema.dropTable(table).execute();
  }
}
