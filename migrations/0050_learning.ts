import { sql, type Kysely } from 'kysely';

/**
 * The learning loop's tables (issue 13, capture + recommend).
 *
 * - `catalog_revision`: one row, bumped in the transaction that publishes a template version.
 *   Every process compares it with the revision its in-memory catalog was built at (a cheap
 *   primary-key read before a case opens, and every few seconds), so a version published by one
 *   process is seen by all without a restart, even when a notification would have been missed.
 * - `template_drafts`: a process owner's proposed next version of a template (captured from a
 *   resolved case or copied from the current version), with the new library fragments it brings;
 *   `revision` is the draft's ETag. Published drafts stay as the record of who published what.
 * - `learning_cases` / `learning_additions`: the resolved cases the recommender learns from, one
 *   row per case (its situation as `items`, whether its required goals were met on time) and one
 *   row per fragment the case added at runtime. Derived from the cases and their journal by the
 *   indexer (learning/index-resolved-cases.ts); can be dropped and rebuilt at any time.
 * - `recommendation_feedback`: an agent accepting or dismissing a recommended fragment.
 *
 * No personal data: situations hold bands and categories (channel, segment, value band, sentiment
 * band, case-file enum values), feedback holds user ids. Rows reference cases by id.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('catalog_revision')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('revision', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`insert into catalog_revision (id, revision) values (1, 0)`.execute(db);

  await db.schema
    .createTable('template_drafts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('template_key', 'text', (c) => c.notNull())
    .addColumn('base_version', 'integer', (c) => c.notNull())
    .addColumn('from_case_id', 'text')
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('draft', 'published', 'discarded')`))
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('body', 'jsonb', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('published_version', 'integer')
    .addColumn('published_by', 'text')
    .addColumn('published_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('template_drafts_key').on('template_drafts').columns(['template_key', 'created_at desc']).execute();

  await db.schema
    .createTable('learning_cases')
    .addColumn('case_id', 'text', (c) => c.primaryKey())
    .addColumn('template_key', 'text', (c) => c.notNull())
    .addColumn('template_version', 'integer', (c) => c.notNull())
    .addColumn('items', sql`text[]`, (c) => c.notNull())
    .addColumn('on_time', 'boolean', (c) => c.notNull())
    .addColumn('resolved_at', 'timestamptz', (c) => c.notNull())
    .addColumn('indexed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('learning_cases_template').on('learning_cases').columns(['template_key']).execute();

  await db.schema
    .createTable('learning_additions')
    .addColumn('case_id', 'text', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('fragment_ref', 'text', (c) => c.notNull())
    .addColumn('fragment_key', 'text', (c) => c.notNull())
    .addColumn('added_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('learning_additions_pk', ['case_id', 'position'])
    .execute();

  await db.schema
    .createTable('recommendation_feedback')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('case_id', 'text', (c) => c.notNull())
    .addColumn('fragment_ref', 'text', (c) => c.notNull())
    .addColumn('decision', 'text', (c) => c.notNull().check(sql`decision in ('accepted', 'dismissed')`))
    .addColumn('case_version', 'integer', (c) => c.notNull())
    .addColumn('rank', 'integer', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('recommendation_feedback_case').on('recommendation_feedback').columns(['case_id', 'at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['recommendation_feedback', 'learning_additions', 'learning_cases', 'template_drafts', 'catalog_revision']) {
    await db.schema.dropTable(table).execute();
  }
}
