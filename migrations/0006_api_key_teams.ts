import { sql, type Kysely } from 'kysely';

/**
 * Teams of an API key: the queues its agent works. An agent sees a case whose queue, or an
 * open task's queue, is one of them (src/http/access.ts). Numbered 0006 so that 0003-0005,
 * taken by work on other branches, keep their order.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('api_keys')
    .addColumn('teams', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_keys').dropColumn('teams').execute();
}
