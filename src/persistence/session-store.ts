/**
 * Browser sessions in Postgres. The cookie carries a random 32-byte id; only its SHA-256 is
 * stored (`id_hash`), so a copy of the table signs nobody in. Every time check uses the
 * database's clock (`statement_timestamp()`), the one all processes share.
 */
import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { User } from '../people/user.js';
import type { Database } from './schema.js';
import { JOINED_USER_COLUMNS, rowToUser } from './user-store.js';

export function hashSessionId(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}

export interface ActiveSession {
  idHash: string;
  csrfToken: string;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  /** When the session ends if unused: last_seen_at + idle. */
  idleExpiresAt: Date;
  user: User;
  /** last_seen_at is older than the touch interval: the caller should `touch` it. */
  stale: boolean;
}

export interface SessionTimes {
  idleSeconds: number;
  /** last_seen_at is written at most this often (a write per request would cost a row version each). */
  touchSeconds: number;
}

export function createSessionStore(db: Kysely<Database>) {
  return {
    async insert(input: { idHash: string; userId: string; csrfToken: string; userAgent: string | undefined; absoluteSeconds: number }): Promise<{ createdAt: Date; expiresAt: Date }> {
      const row = await db
        .insertInto('sessions')
        .values({
          id_hash: input.idHash,
          user_id: input.userId,
          csrf_token: input.csrfToken,
          created_at: sql<Date>`statement_timestamp()`,
          last_seen_at: sql<Date>`statement_timestamp()`,
          expires_at: sql<Date>`statement_timestamp() + make_interval(secs => ${input.absoluteSeconds})`,
          user_agent: input.userAgent?.slice(0, 500) ?? null,
          revoked_at: null,
        })
        .returning(['created_at', 'expires_at'])
        .executeTakeFirstOrThrow();
      return { createdAt: row.created_at, expiresAt: row.expires_at };
    },

    /**
     * The session for a hashed id if it is live: not revoked, before its absolute expiry, used
     * within the idle period, and its user enabled. Anything else is undefined — the caller
     * cannot tell (and need not) which rule ended it.
     */
    async findActive(idHash: string, times: SessionTimes): Promise<ActiveSession | undefined> {
      const row = await db
        .selectFrom('sessions as s')
        .innerJoin('users as u', 'u.id', 's.user_id')
        .select([
          's.id_hash',
          's.csrf_token',
          's.created_at as session_created_at',
          's.last_seen_at',
          's.expires_at',
          sql<Date>`s.last_seen_at + make_interval(secs => ${times.idleSeconds})`.as('idle_expires_at'),
          sql<boolean>`s.last_seen_at < statement_timestamp() - make_interval(secs => ${times.touchSeconds})`.as('stale'),
          ...JOINED_USER_COLUMNS,
        ])
        .where('s.id_hash', '=', idHash)
        .where('s.revoked_at', 'is', null)
        .where('s.expires_at', '>', sql<Date>`statement_timestamp()`)
        .where('s.last_seen_at', '>', sql<Date>`statement_timestamp() - make_interval(secs => ${times.idleSeconds})`)
        .where('u.disabled_at', 'is', null)
        .executeTakeFirst();
      if (!row) return undefined;
      return {
        idHash: row.id_hash,
        csrfToken: row.csrf_token,
        createdAt: row.session_created_at,
        lastSeenAt: row.last_seen_at,
        expiresAt: row.expires_at,
        idleExpiresAt: new Date(row.idle_expires_at),
        user: rowToUser(row),
        stale: row.stale,
      };
    },

    /** Moves last_seen_at to now, unless another request did within the touch interval. */
    async touch(idHash: string, touchSeconds: number): Promise<void> {
      await db
        .updateTable('sessions')
        .set({ last_seen_at: sql<Date>`statement_timestamp()` })
        .where('id_hash', '=', idHash)
        .where('revoked_at', 'is', null)
        .where('last_seen_at', '<', sql<Date>`statement_timestamp() - make_interval(secs => ${touchSeconds})`)
        .execute();
    },

    async revoke(idHash: string): Promise<boolean> {
      const result = await db.updateTable('sessions').set({ revoked_at: sql<Date>`statement_timestamp()` }).where('id_hash', '=', idHash).where('revoked_at', 'is', null).executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    /** Ends every live session of a user (disabled, password changed), but `exceptIdHash`. Returns how many. */
    async revokeAllFor(userId: string, exceptIdHash?: string): Promise<number> {
      let q = db.updateTable('sessions').set({ revoked_at: sql<Date>`statement_timestamp()` }).where('user_id', '=', userId).where('revoked_at', 'is', null);
      if (exceptIdHash !== undefined) q = q.where('id_hash', '<>', exceptIdHash);
      const result = await q.executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;
