import { sql, type Kysely } from 'kysely';

/**
 * The supervisor console's reach/virality alerts read the recent `case.escalated` journal
 * entries (a post's reach or engagements per hour crossed a template threshold). A partial index
 * on their time keeps that read off the rest of the journal, which grows with every command.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index journal_escalations_at on journal (at desc) where type = 'case.escalated'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists journal_escalations_at`.execute(db);
}
