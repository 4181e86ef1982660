import { sql, type Kysely } from 'kysely';

/**
 * Two logs that must say what happened, even when what happened next did not get recorded:
 *
 * - **The journal is append-only in the database.** A statement-level trigger refuses every
 *   UPDATE, DELETE and TRUNCATE of `journal` (also one matching no row) with SQLSTATE 55000
 *   (`object_not_in_prerequisite_state`) and a message that names the rule. Inserting is untouched
 *   (no per-row cost on the write path). The one controlled path, for a later erasure feature
 *   (e.g. a data subject's personal data): in its own transaction, `set local
 *   tessera.journal_erasure = 'on'`, then update or delete the rows; the setting ends with the
 *   transaction. Nothing in Tessera takes that path today. The trigger guards against code and
 *   hand-written SQL, not against the table's owner, who can drop it.
 *
 * - **A webhook attempt is logged before it is sent**, with what is sent (time, URL, the address
 *   connected to, the `webhook-timestamp` header, the body's SHA-256 and size; the `webhook-id`
 *   is the delivery id), and completed with its outcome after the answer. An attempt whose
 *   worker died in between keeps `outcome = 'unknown'`. Earlier attempts get their outcome from
 *   what they recorded.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function journal_append_only() returns trigger language plpgsql as $$
    begin
      if coalesce(current_setting('tessera.journal_erasure', true), '') = 'on' then
        return null;
      end if;
      raise exception 'the journal is append-only: % of journal rows is refused', tg_op
        using errcode = 'object_not_in_prerequisite_state',
              hint = 'Journal rows are the case history and are never changed. An erasure feature runs '
                  || 'set local tessera.journal_erasure = ''on'' in its own transaction first.';
    end
    $$`.execute(db);
  await sql`
    create trigger journal_append_only before update or delete or truncate on journal
    for each statement execute function journal_append_only()`.execute(db);

  await sql`
    alter table webhook_delivery_attempts
      add column address text,
      add column webhook_timestamp bigint,
      add column body_sha256 text,
      add column body_bytes integer,
      add column outcome text,
      alter column duration_ms drop not null`.execute(db);
  await sql`
    update webhook_delivery_attempts
    set outcome = case when error is null and status_code between 200 and 299 then 'succeeded' else 'failed' end`.execute(db);
  await sql`
    alter table webhook_delivery_attempts
      alter column outcome set not null,
      add constraint webhook_delivery_attempts_outcome check (outcome in ('succeeded', 'failed', 'unknown'))`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from webhook_delivery_attempts where duration_ms is null`.execute(db);
  await sql`
    alter table webhook_delivery_attempts
      drop constraint webhook_delivery_attempts_outcome,
      drop column outcome,
      drop column body_bytes,
      drop column body_sha256,
      drop column webhook_timestamp,
      drop column address,
      alter column duration_ms set not null`.execute(db);
  await sql`drop trigger journal_append_only on journal`.execute(db);
  await sql`drop function journal_append_only()`.execute(db);
}
