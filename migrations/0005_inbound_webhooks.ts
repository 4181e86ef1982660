import { sql, type Kysely } from 'kysely';

/**
 * Inbound webhooks: sources (sealed signing secrets and a payload mapping) and the inbox, the
 * durable record of every accepted message. A 202 means an inbox row committed; a worker
 * applies it later, in receipt order (`seq`) per correlation key.
 *
 * Cases are looked up by what integrators know them by: `customer_id` (already a column) and
 * `case_keys` (external references and the customer handle), filled by a trigger when the case
 * row is inserted — in the command transaction that opens the case, so it is exact. Not an
 * expression index on `state`: that would make every case update non-HOT (the cases table keeps
 * page room for HOT updates), and the keys only change at open (`case.open` is the one command that
 * sets `externalRefs` and `customer`; a command that changes them must extend this trigger).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('inbound_sources')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('description', 'text')
    /** [{ id, sealed, created_at, expires_at }]: at most two active, for rotation. */
    .addColumn('secrets', 'jsonb', (c) => c.notNull())
    .addColumn('mapping', 'jsonb', (c) => c.notNull())
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('inbox')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigserial', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('webhook_id', 'text', (c) => c.notNull())
    /** SHA-256 of the raw body: the same webhook-id with another body is refused. */
    .addColumn('body_hash', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('sent_at', 'timestamptz', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    /** `<by>:<ref>:<value>` from the matching rule at accept: rows with one key apply in seq order. */
    .addColumn('correlation_key', 'text')
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('received', 'applied', 'unmatched', 'failed')`),
    )
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('case_id', 'text')
    .addColumn('result', 'jsonb')
    .addColumn('error', 'jsonb')
    .addColumn('applied_at', 'timestamptz')
    .addUniqueConstraint('inbox_source_webhook_id', ['source', 'webhook_id'])
    .execute();
  // The apply path: earlier pending rows of one key, in receipt order.
  await sql`create index inbox_pending_key on inbox (source, correlation_key, seq) where status = 'received'`.execute(db);
  // The reconciler: every pending row, oldest first.
  await sql`create index inbox_pending on inbox (seq) where status = 'received'`.execute(db);
  // Lists: newest first, optionally by source and status.
  await db.schema.createIndex('inbox_status_seq').on('inbox').columns(['status', 'seq desc']).execute();
  await db.schema.createIndex('inbox_source_seq').on('inbox').columns(['source', 'status', 'seq desc']).execute();

  await db.schema
    .createTable('case_keys')
    /** `ref:<name>` for an external reference, `handle` for the customer handle. */
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('case_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('case_keys_pk', ['kind', 'value', 'case_id'])
    .execute();
  await sql`
    create function case_keys_on_insert() returns trigger language plpgsql as $$
    begin
      insert into case_keys (kind, value, case_id)
      select 'ref:' || r.key, r.value, new.id from jsonb_each_text(coalesce(new.state -> 'externalRefs', '{}'::jsonb)) r
      union all
      select 'handle', new.state #>> '{customer,handle}', new.id where new.state #>> '{customer,handle}' is not null
      on conflict do nothing;
      return null;
    end $$`.execute(db);
  await sql`create trigger case_keys_on_insert after insert on cases for each row execute function case_keys_on_insert()`.execute(db);
  // Cases opened before this migration.
  await sql`
    insert into case_keys (kind, value, case_id)
    select 'ref:' || r.key, r.value, c.id from cases c, jsonb_each_text(coalesce(c.state -> 'externalRefs', '{}'::jsonb)) r
    union all
    select 'handle', c.state #>> '{customer,handle}', c.id from cases c where c.state #>> '{customer,handle}' is not null
    on conflict do nothing`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger if exists case_keys_on_insert on cases`.execute(db);
  await sql`drop function if exists case_keys_on_insert()`.execute(db);
  await db.schema.dropTable('case_keys').execute();
  await db.schema.dropTable('inbox').execute();
  await db.schema.dropTable('inbound_sources').execute();
}
