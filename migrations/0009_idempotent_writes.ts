import { sql, type Kysely } from 'kysely';

/**
 * Idempotency keys for every write route, not only case commands (src/commands/run-idempotent.ts):
 * the headers of the first answer (e.g. `location`) are replayed with it, and an answer that
 * carries a one-time secret (an API key, a signing secret) is stored sealed with the secret box
 * (`response_sealed`, the body's JSON; `response` is then JSON null) — never in clear at rest.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('idempotency_keys')
    .addColumn('headers', 'jsonb')
    .addColumn('response_sealed', 'text')
    .execute();
  await sql`comment on column idempotency_keys.response_sealed is 'the answer body, sealed (tsb1.*), when it carries a one-time secret'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('idempotency_keys').dropColumn('headers').dropColumn('response_sealed').execute();
}
