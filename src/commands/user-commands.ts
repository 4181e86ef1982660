/**
 * Commands on users: validate -> authorize -> one transaction (lock the user row, pure decide,
 * write the row + its journal entry, end the user's sessions when the change says so), with the
 * Idempotency-Key stored in the same transaction (run-idempotent.ts). Password hashing (scrypt,
 * tens to hundreds of ms) runs before the transaction, never while a row is locked.
 */
import type { IdempotencyRequest } from './run-command.js';
import type { IdempotentWriter, WriteResponse } from './run-idempotent.js';
import { TesseraError } from '../errors.js';
import type { Principal } from '../people/principal.js';
import { decideUser, type NewUser, type User, type UserCommand, type UserDecision } from '../people/user.js';
import { createSessionStore } from '../persistence/session-store.js';
import { createUserStore, databaseNow } from '../persistence/user-store.js';

export interface UserChange {
  userId: string;
  actor: Principal;
  reason?: string | undefined;
  /** If-Match: the version the caller read; a later one is a 412. */
  expectedVersion?: number | undefined;
  /** Refuses (throws) when the actor may not make this change to this user; runs on the locked row. */
  authorize?: (user: User) => void;
  command: UserCommand;
  /** Sessions to keep when the change ends the user's sessions (the one changing its own password). */
  keepSessionIdHash?: string | undefined;
  /** The answer's body; `undefined` answers 204. */
  view: (user: User) => unknown;
}

export function createUserCommands(deps: { writes: IdempotentWriter }) {
  const actorOf = (p: Principal) => ({ id: p.userId, role: p.role });

  return {
    async create(idem: IdempotencyRequest | undefined, input: { user: NewUser; passwordHash?: string; actor: Principal; reason?: string; view: (u: User) => unknown }): Promise<WriteResponse> {
      return deps.writes.run(idem, {
        effect: async (trx) => {
          const now = await databaseNow(trx);
          const decision = decideUser(undefined, { type: 'create', user: input.user, ...(input.passwordHash ? { passwordHash: input.passwordHash } : {}) }, { actor: actorOf(input.actor), reason: input.reason, now });
          await createUserStore(trx).insert(decision);
          return { answer: { statusCode: 201, body: input.view(decision.user), headers: { location: `/v1/users/${decision.user.id}`, etag: `"v${decision.user.version}"` } } };
        },
      });
    },

    async change(idem: IdempotencyRequest | undefined, input: UserChange): Promise<WriteResponse> {
      return deps.writes.run(idem, {
        effect: async (trx) => {
          const users = createUserStore(trx);
          const user = await users.findForUpdate(input.userId);
          if (!user) throw new TesseraError('USER_NOT_FOUND', `No user has id ${input.userId}; list users with GET /v1/users`);
          input.authorize?.(user);
          if (input.expectedVersion !== undefined && input.expectedVersion !== user.version) {
            throw new TesseraError('VERSION_MISMATCH', `User ${user.id} is at version ${user.version}, not ${input.expectedVersion}: read it again (GET /v1/users/${user.id}) and resend with If-Match: "v${user.version}"`);
          }
          const now = await databaseNow(trx);
          const decision: UserDecision = decideUser(user, input.command, { actor: actorOf(input.actor), reason: input.reason, now });
          await users.save(decision);
          if (decision.revokeSessions) await createSessionStore(trx).revokeAllFor(user.id, input.keepSessionIdHash);
          const body = input.view(decision.user);
          if (body === undefined) return { answer: { statusCode: 204 } };
          return { answer: { statusCode: 200, body, headers: { etag: `"v${decision.user.version}"` } } };
        },
      });
    },
  };
}

export type UserCommands = ReturnType<typeof createUserCommands>;
