import { sql, type Kysely } from 'kysely';

/**
 * The journal's command record (cases/command-record.ts): per case version, the command the
 * engine decided and the inputs it decided with, written in the command's own statement. Plan
 * as of any time and conformance fold these through the pinned definitions
 * (history/replay-case.ts); nothing reads them on the write path.
 *
 * Append-only like `journal` (the same trigger, the same erasure switch): an erasure masks
 * personal data in `command` and `customer` inside a `tessera.journal_erasure = 'on'` transaction.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('journal_commands')
    .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('record', 'jsonb', (c) => c.notNull())
    .addPrimaryKeyConstraint('journal_commands_pk', ['case_id', 'version'])
    .execute();
  await sql`
    create trigger journal_commands_append_only before update or delete or truncate on journal_commands
    for each statement execute function journal_append_only()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('journal_commands').execute();
}
