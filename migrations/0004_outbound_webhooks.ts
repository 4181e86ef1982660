import { sql, type Kysely } from 'kysely';

/**
 * Outbound webhooks. A subscription names a URL, the event types it wants and a sealed signing
 * secret. A delivery is one outbox row for one subscription: created once (unique per pair), its
 * id is the `webhook-id` every attempt carries, and it ends `delivered` or `dead`. Each try is an
 * attempt row. Subscriptions are deleted with their deliveries (as Stripe deletes an endpoint).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('webhook_subscriptions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('event_types', sql`text[]`, (c) => c.notNull())
    .addColumn('secret_sealed', 'text', (c) => c.notNull())
    // During a rotation the previous secret also signs, until it expires.
    .addColumn('previous_secret_sealed', 'text')
    .addColumn('previous_secret_expires_at', 'timestamptz')
    .addColumn('description', 'text')
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('webhook_subscriptions_owner').on('webhook_subscriptions').columns(['created_by', 'created_at desc', 'id desc']).execute();
  await db.schema.createIndex('webhook_subscriptions_created').on('webhook_subscriptions').columns(['created_at desc', 'id desc']).execute();

  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('outbox_id', 'text', (c) => c.notNull().references('outbox.id'))
    .addColumn('subscription_id', 'text', (c) => c.notNull().references('webhook_subscriptions.id').onDelete('cascade'))
    .addColumn('event_type', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending').check(sql`status in ('pending', 'delivered', 'dead')`))
    // Every try ever made, and the tries of the current run (a replay starts a new run).
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('run_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz')
    .addColumn('last_status_code', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('delivered_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('webhook_deliveries_event_subscription').unique().on('webhook_deliveries').columns(['outbox_id', 'subscription_id']).execute();
  await sql`create index webhook_deliveries_pending on webhook_deliveries (id) where status = 'pending'`.execute(db);
  await db.schema.createIndex('webhook_deliveries_subscription').on('webhook_deliveries').columns(['subscription_id', 'created_at desc', 'id desc']).execute();
  await db.schema.createIndex('webhook_deliveries_status').on('webhook_deliveries').columns(['status', 'created_at desc', 'id desc']).execute();
  await db.schema.createIndex('webhook_deliveries_created').on('webhook_deliveries').columns(['created_at desc', 'id desc']).execute();

  await db.schema
    .createTable('webhook_delivery_attempts')
    .addColumn('delivery_id', 'text', (c) => c.notNull().references('webhook_deliveries.id').onDelete('cascade'))
    .addColumn('n', 'integer', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('status_code', 'integer')
    .addColumn('error', 'text')
    .addColumn('response_body', 'text')
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('webhook_delivery_attempts_pk', ['delivery_id', 'n'])
    .execute();

  // Replaying a time range reads the outbox by time.
  await db.schema.createIndex('outbox_occurred').on('outbox').columns(['occurred_at', 'seq']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('outbox_occurred').execute();
  for (const table of ['webhook_delivery_attempts', 'webhook_deliveries', 'webhook_subscriptions']) {
    await db.schema.dropTable(table).execute();
  }
}
