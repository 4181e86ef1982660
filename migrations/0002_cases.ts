import { sql, type Kysely } from 'kysely';

/**
 * The case store. The aggregate (goals, fragment snapshots, open tasks, case file) is one
 * jsonb document on the case row, so a command loads it in one round trip under the row lock;
 * the other tables are written in the same transaction: the journal, the task worklist,
 * timers and outbox rows (for the relay), content, idempotency keys, runtime definitions.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('definitions')
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('template', 'fragment')`))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('body', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('definitions_pk', ['kind', 'key', 'version'])
    .execute();

  await db.schema
    .createTable('cases')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('template_key', 'text', (c) => c.notNull())
    .addColumn('template_version', 'integer', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('priority', 'text', (c) => c.notNull())
    .addColumn('owner_id', 'text')
    .addColumn('queue', 'text')
    .addColumn('customer_id', 'text')
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('state', 'jsonb', (c) => c.notNull())
    .addColumn('opened_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addColumn('closed_at', 'timestamptz')
    .execute();
  // Lists are keyset-paged newest first; each filter leads one index.
  await db.schema.createIndex('cases_status_opened').on('cases').columns(['status', 'opened_at desc', 'id desc']).execute();
  await db.schema.createIndex('cases_opened').on('cases').columns(['opened_at desc', 'id desc']).execute();
  await db.schema.createIndex('cases_owner').on('cases').columns(['owner_id', 'opened_at desc']).execute();
  await db.schema.createIndex('cases_queue').on('cases').columns(['queue', 'opened_at desc']).execute();
  await db.schema.createIndex('cases_template').on('cases').columns(['template_key', 'opened_at desc']).execute();
  await db.schema.createIndex('cases_customer').on('cases').columns(['customer_id']).execute();

  await db.schema
    .createTable('tasks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
    .addColumn('fragment_id', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('role', 'text')
    .addColumn('assignee_id', 'text')
    .addColumn('queue', 'text')
    .addColumn('due_at', 'timestamptz')
    .addColumn('opened_at', 'timestamptz', (c) => c.notNull())
    .addColumn('closed_at', 'timestamptz')
    .addColumn('body', 'jsonb', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('tasks_assignee').on('tasks').columns(['assignee_id', 'status', 'due_at', 'id']).execute();
  await db.schema.createIndex('tasks_queue').on('tasks').columns(['queue', 'status', 'due_at', 'id']).execute();
  await db.schema.createIndex('tasks_case').on('tasks').columns(['case_id']).execute();

  await db.schema
    .createTable('journal')
    .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('idx', 'integer', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('actor_role', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('journal_pk', ['case_id', 'version', 'idx'])
    .execute();

  await db.schema
    .createTable('timers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('fragment_id', 'text')
    .addColumn('goal_key', 'text')
    .addColumn('due_at', 'timestamptz', (c) => c.notNull())
    .addColumn('event', 'jsonb')
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('settled_at', 'timestamptz')
    .execute();
  await sql`create index timers_pending_due on timers (due_at) where status = 'pending'`.execute(db);
  await db.schema.createIndex('timers_case').on('timers').columns(['case_id']).execute();

  await db.schema
    .createTable('outbox')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigserial', (c) => c.notNull())
    .addColumn('case_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index outbox_pending on outbox (seq) where status = 'pending'`.execute(db);
  await db.schema.createIndex('outbox_case').on('outbox').columns(['case_id', 'seq']).execute();

  await db.schema
    .createTable('content')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('added_by', 'text', (c) => c.notNull())
    .addColumn('added_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('content_case').on('content').columns(['case_id', 'added_at']).execute();

  await db.schema
    .createTable('idempotency_keys')
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('case_id', 'text')
    .addColumn('status_code', 'integer', (c) => c.notNull())
    .addColumn('response', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['owner', 'key'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['idempotency_keys', 'content', 'outbox', 'timers', 'journal', 'tasks', 'cases', 'definitions']) {
    await db.schema.dropTable(table).execute();
  }
}
