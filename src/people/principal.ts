/**
 * Who a request acts for, however it proved it (an API key or a browser session). Routes,
 * access rules and commands read only this; they never look at the credential.
 */
import type { Role } from '../cases/types.js';
import type { Presence } from './user.js';

export interface Principal {
  /**
   * `user`: a person (a users row backs userId); `integration`: an integrator key, whose userId
   * is the integration's name (no users row); `operator`: the bootstrap admin key or the
   * embedded server's local admin token (no row either).
   */
  kind: 'user' | 'integration' | 'operator';
  /** The acting id: journal actor, idempotency owner, task assignee. */
  userId: string;
  /** Effective role: an API key's role capped at its user's current role; a session's is the user's. */
  role: Role;
  /** Queues the caller works (the user's teams; for integrations and operators none). */
  teams: readonly string[];
  /** `{ skill: level 1-5 }` of the user, as read when the request arrived; {} for non-users. */
  skills: Readonly<Record<string, number>>;
  /** Work units per kind (`default` for kinds not listed), as read when the request arrived; {} for non-users. */
  capacity: Readonly<Record<string, number>>;
  /** As read when the request arrived; `offline` for non-users. Routing re-reads it under lock. */
  presence: Presence;
  /** How the caller authenticated. */
  via: 'api_key' | 'session';
  /**
   * The credential's id: the API key id, or `session:<first 16 hex of the session hash>`; the
   * rate limiter counts per credential.
   */
  keyId: string;
}

/** A principal for something that is not a person (integrations, operator tokens). */
export function nonUserPrincipal(input: { kind: 'integration' | 'operator'; userId: string; role: Role; keyId: string; teams?: readonly string[] }): Principal {
  return { kind: input.kind, userId: input.userId, role: input.role, teams: input.teams ?? [], skills: {}, capacity: {}, presence: 'offline', via: 'api_key', keyId: input.keyId };
}
