/**
 * Idempotency-Key for the write routes that are not case commands (webhook subscriptions, API
 * keys, inbound sources, replays, inbox retries). The same promise as case commands
 * (run-command.ts), with the answer committed in the same transaction as the effect:
 *
 * - same key, same request -> the first answer again (`replayed`), with no second effect;
 * - same key, another request -> 422 IDEMPOTENCY_KEY_REUSED;
 * - a request while the first with its key is in flight waits for it (an advisory lock on the
 *   key), then gets its answer.
 *
 * Only successes are stored: a refused request can be retried with the same key.
 *
 * One-time secrets: an answer that carries one (a new API key, a signing secret) is replayed to
 * the same caller with the same key, as Stripe does; it is stored sealed with the secret box,
 * never in clear. If it cannot be opened any more (TESSERA_SECRET_KEY changed), the replay is
 * refused with IDEMPOTENT_REPLAY_UNAVAILABLE rather than repeating the effect.
 */
import type { Kysely } from 'kysely';
import { TesseraError } from '../errors.js';
import { isUniqueViolation } from '../persistence/driver-errors.js';
import { findStoredAnswer, insertStoredAnswer, lockIdempotencyKey } from '../persistence/idempotency-store.js';
import type { Database } from '../persistence/schema.js';
import type { SecretBox } from '../platform/secret-box.js';
import type { IdempotencyRequest } from './run-command.js';

export interface WriteAnswer {
  statusCode: number;
  /** undefined for an empty answer (204). */
  body?: unknown;
  /** Replayed with the body (e.g. location). */
  headers?: Record<string, string>;
}

export interface WriteResponse extends WriteAnswer {
  replayed: boolean;
}

export interface IdempotentWrite<P> {
  /**
   * Checks that need no transaction (lookups, URL checks); runs after a stored answer was looked
   * for, so a retry of a request that succeeded is answered even when its checks would now fail
   * (a deleted object).
   */
  prepare?: () => Promise<P> | P;
  /** The effect, in the transaction the answer is stored in. Throw a TesseraError to refuse. */
  effect: (trx: Kysely<Database>, prepared: P) => Promise<{ answer: WriteAnswer; afterCommit?: () => void | Promise<void> }>;
  /** The answer carries a one-time secret: stored sealed. */
  secret?: boolean;
}

export function createIdempotentWriter(deps: { db: Kysely<Database>; secrets: SecretBox }) {
  async function stored(db: Kysely<Database>, idem: IdempotencyRequest): Promise<WriteResponse | undefined> {
    const row = await findStoredAnswer(db, idem.owner, idem.key);
    if (!row) return undefined;
    if (row.request_hash !== idem.requestHash) {
      throw new TesseraError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with a different request; use a new key for a new request');
    }
    let body = row.response;
    if (row.response_sealed !== null) {
      try {
        body = JSON.parse(deps.secrets.open(row.response_sealed));
      } catch {
        throw new TesseraError(
          'IDEMPOTENT_REPLAY_UNAVAILABLE',
          'The first answer to this Idempotency-Key held a secret that can no longer be opened (the deployment key changed); the request was not repeated — check its effect, then use a new key',
        );
      }
    }
    return { statusCode: row.status_code, ...(body === null ? {} : { body }), ...(row.headers ? { headers: row.headers } : {}), replayed: true };
  }

  /** Runs a write once per (caller, key); without a key, simply in one transaction. */
  async function run<P = undefined>(idem: IdempotencyRequest | undefined, write: IdempotentWrite<P>): Promise<WriteResponse> {
    if (idem) {
      const earlier = await stored(deps.db, idem);
      if (earlier) return earlier;
    }
    const prepared = (await write.prepare?.()) as P;
    let afterCommit: (() => void | Promise<void>) | undefined;
    let response: WriteResponse;
    try {
      response = await deps.db.transaction().execute(async (trx) => {
        if (idem) {
          await lockIdempotencyKey(trx, idem.owner, idem.key);
          const earlier = await stored(trx, idem);
          if (earlier) return earlier;
        }
        const result = await write.effect(trx, prepared);
        const { answer } = result;
        if (idem) {
          const body = answer.body ?? null;
          await insertStoredAnswer(trx, {
            owner: idem.owner,
            key: idem.key,
            requestHash: idem.requestHash,
            statusCode: answer.statusCode,
            response: write.secret ? null : body,
            responseSealed: write.secret ? deps.secrets.seal(JSON.stringify(body)) : null,
            headers: answer.headers ?? null,
          });
        }
        afterCommit = result.afterCommit;
        return { ...answer, replayed: false };
      });
    } catch (err) {
      // A case command with the same key committed meanwhile (it takes no advisory lock).
      if (idem && isUniqueViolation(err, 'idempotency_keys_pk')) {
        const earlier = await stored(deps.db, idem);
        if (earlier) return earlier;
      }
      throw err;
    }
    if (!response.replayed) await afterCommit?.();
    return response;
  }

  return { run };
}

export type IdempotentWriter = ReturnType<typeof createIdempotentWriter>;
