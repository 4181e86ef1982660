import { sql, type Kysely } from 'kysely';

/**
 * The case write statement (persistence/case-store.ts, saveDecisions) checks itself: every case
 * it was given must have been written at its expected version, or the statement fails and
 * nothing of it stands. The caller used to count the rows after the statement and throw, which
 * rolled the transaction back; when COMMIT goes in the same round trip as the write
 * (platform/pipelined-transactions.ts) nothing after the write can undo it, so the check must
 * be inside. The row locks of every caller make a miss unreachable; this keeps it harmless if
 * it ever happens. SQLSTATE TS409 is how the store recognises it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function tessera_cases_written(written bigint, expected int) returns int language plpgsql as $$
    begin
      if written <> expected then
        raise exception 'the case write matched % of % cases at their expected version', written, expected
          using errcode = 'TS409';
      end if;
      return written;
    end
    $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function tessera_cases_written(bigint, int)`.execute(db);
}
