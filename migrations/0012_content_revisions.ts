import { sql, type Kysely } from 'kysely';

/**
 * Typed content and post history: a content row carries what Tessera computed from it
 * (`analysis`: the sentiment of a post, with the model id) and, for social posts, which revision
 * it is at. Every version of a post (revision 1 when added, +1 per update with the same channel
 * and post id / URL) is a row of `content_revisions`, written in the command's statement; the
 * growth of reach and engagements over time (virality) is read from it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('content')
    .addColumn('analysis', 'jsonb')
    .addColumn('revision', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('updated_at', 'timestamptz')
    .addColumn('updated_by', 'text')
    .execute();
  await db.schema
    .createTable('content_revisions')
    .addColumn('content_id', 'text', (c) => c.notNull().references('content.id'))
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('case_id', 'text', (c) => c.notNull())
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('analysis', 'jsonb')
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('by', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('content_revisions_pk', ['content_id', 'revision'])
    .execute();
  await sql`comment on table content_revisions is 'every version of a social post: what was sent, when, by whom'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('content_revisions').execute();
  await db.schema.alterTable('content').dropColumn('analysis').dropColumn('revision').dropColumn('updated_at').dropColumn('updated_by').execute();
}
