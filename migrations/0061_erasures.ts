import { sql, type Kysely } from 'kysely';

/**
 * Erasure of personal data (src/privacy/): one row per erasure run — who asked, on what basis,
 * which steps of the registry are done (a crash resumes from the first step not done) and what
 * each changed, in counts. Never personal data: the subject is named by its customer id (or, for
 * retention, the case ids), the reason is the operator's.
 * `cases.erased_at` marks a case whose personal data is gone, so retention passes skip it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('erasures')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('customer_id', 'text')
    .addColumn('case_ids', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('basis', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('running'))
    .addColumn('steps_done', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('counts', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', 'timestamptz')
    .execute();
  await sql`create index erasures_running on erasures (created_at) where status = 'running'`.execute(db);
  await sql`create index erasures_customer on erasures (customer_id, created_at)`.execute(db);
  await db.schema.alterTable('cases').addColumn('erased_at', 'timestamptz').execute();
  // Retention: the closed cases of a template, oldest first, that still hold personal data.
  await sql`create index cases_retention on cases (template_key, closed_at) where closed_at is not null and erased_at is null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists cases_retention`.execute(db);
  await db.schema.alterTable('cases').dropColumn('erased_at').execute();
  await db.schema.dropTable('erasures').execute();
}
