/**
 * The session layer: starts, resolves and ends browser sessions for a user who has proved who
 * they are. It does not know how they proved it — password sign-in (http/session-routes.ts)
 * calls `issue` after checking the password; single sign-on would call it after checking the
 * identity provider's answer. Authorization then reads the same principal either way.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { User } from '../people/user.js';
import type { Database } from '../persistence/schema.js';
import { createSessionStore, hashSessionId, type ActiveSession } from '../persistence/session-store.js';

export interface IssuedSession {
  /** The cookie value: 32 random bytes, base64url. Exists only here and in the browser. */
  token: string;
  idHash: string;
  /** Sent back in `X-CSRF-Token` on every cookie-authenticated write. */
  csrfToken: string;
  createdAt: Date;
  expiresAt: Date;
  idleExpiresAt: Date;
}

export interface SessionIssuer {
  /** Starts a session for `user` (enabled, proved by the caller). Pass `trx` to start it inside a transaction. */
  issue(user: User, meta: { userAgent?: string | undefined }, trx?: Kysely<Database>): Promise<IssuedSession>;
  /** The live session a cookie value names (touching its last use at most once a minute), or undefined. */
  resolve(token: string): Promise<ActiveSession | undefined>;
  /** Ends the session a cookie value names (sign-out). */
  end(token: string): Promise<boolean>;
}

export interface SessionIssuerOptions {
  db: Kysely<Database>;
  idleSeconds: number;
  absoluteSeconds: number;
  /** How often last_seen_at is written at most (default 60 s). */
  touchSeconds?: number;
}

/** A cookie value we could have issued (43 base64url characters): anything else is not looked up. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export function createSessionIssuer(options: SessionIssuerOptions): SessionIssuer {
  const touchSeconds = options.touchSeconds ?? 60;
  const times = { idleSeconds: options.idleSeconds, touchSeconds };
  return {
    async issue(user, meta, trx) {
      const token = randomBytes(32).toString('base64url');
      const csrfToken = randomBytes(32).toString('base64url');
      const idHash = hashSessionId(token);
      const { createdAt, expiresAt } = await createSessionStore(trx ?? options.db).insert({
        idHash,
        userId: user.id,
        csrfToken,
        userAgent: meta.userAgent,
        absoluteSeconds: options.absoluteSeconds,
      });
      const idle = new Date(createdAt.getTime() + options.idleSeconds * 1000);
      return { token, idHash, csrfToken, createdAt, expiresAt, idleExpiresAt: idle < expiresAt ? idle : expiresAt };
    },
    async resolve(token) {
      if (!TOKEN.test(token)) return undefined;
      const store = createSessionStore(options.db);
      const session = await store.findActive(hashSessionId(token), times);
      if (session?.stale) await store.touch(session.idHash, touchSeconds);
      return session;
    },
    async end(token) {
      if (!TOKEN.test(token)) return false;
      return createSessionStore(options.db).revoke(hashSessionId(token));
    },
  };
}
