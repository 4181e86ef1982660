import { sql, type Kysely } from 'kysely';

/**
 * The recommender keeps each template's situation statistics in memory (learning/situation-stats.ts)
 * and catches up on every request with the learning rows indexed since it last looked, by any
 * process: this index makes that read touch only the new rows.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index learning_cases_template_indexed on learning_cases (template_key, indexed_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists learning_cases_template_indexed`.execute(db);
}
