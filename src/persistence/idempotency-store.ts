/**
 * Stored first answers of write requests, keyed by (owner, Idempotency-Key). Case commands write
 * theirs inside the command statement (case-store); the other write routes use these functions
 * inside their own transaction (commands/run-idempotent.ts).
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface StoredAnswerRow {
  request_hash: string;
  status_code: number;
  response: unknown;
  headers: Record<string, string> | null;
  response_sealed: string | null;
}

export interface NewStoredAnswer {
  owner: string;
  key: string;
  requestHash: string;
  statusCode: number;
  /** JSON null when the body is sealed. */
  response: unknown;
  headers: Record<string, string> | null;
  responseSealed: string | null;
}

/**
 * Serialises requests with one key until the transaction ends: a second request with the key
 * waits here while the first is in flight, then finds its stored answer.
 */
export async function lockIdempotencyKey(trx: Kysely<Database>, owner: string, key: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`idempotency ${owner} ${key}`}, 0))`.execute(trx);
}

export async function findStoredAnswer(db: Kysely<Database>, owner: string, key: string): Promise<StoredAnswerRow | undefined> {
  return db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'status_code', 'response', 'headers', 'response_sealed'])
    .where('owner', '=', owner)
    .where('key', '=', key)
    .executeTakeFirst();
}

export async function insertStoredAnswer(trx: Kysely<Database>, answer: NewStoredAnswer): Promise<void> {
  await trx
    .insertInto('idempotency_keys')
    .values({
      owner: answer.owner,
      key: answer.key,
      request_hash: answer.requestHash,
      case_id: null,
      status_code: answer.statusCode,
      response: JSON.stringify(answer.response ?? null),
      headers: answer.headers ? JSON.stringify(answer.headers) : null,
      response_sealed: answer.responseSealed,
    })
    .execute();
}
