/**
 * Commands on users: validate -> authorize -> one transaction (lock the user row, pure decide,
 * write the row + its journal entry, end the user's sessions when the change says so), with the
 * Idempotency-Key stored in the same transaction (run-idempotent.ts). Password hashing (scrypt,
 * tens to hundreds of ms) runs before the transaction, never while a row is locked.
 *
 * `createUserIn` / `changeUserIn` are the transaction bodies; the CLI runs them in a transaction
 * of its own when no server holds the database.
 */
import type { Kysely } from 'kysely';
import type { IdempotencyRequest } from './run-command.js';
import type { IdempotentWriter, WriteAnswer, WriteResponse } from './run-idempotent.js';
import { TesseraError } from '../errors.js';
import { decideUser, type NewUser, type User, type UserCommand, type UserDecision } from '../people/user.js';
import type { Database } from '../persistence/schema.js';
import { createSessionStore } from '../persistence/session-store.js';
import { createUserStore, databaseNow } from '../persistence/user-store.js';

export interface Actor {
  id: string;
  role: string;
}

export interface NewUserInput {
  user: NewUser;
  passwordHash?: string | undefined;
  actor: Actor;
  reason?: string | undefined;
}

export interface UserChange {
  userId: string;
  actor: Actor;
  reason?: string | undefined;
  /** If-Match: the version the caller read; a later one is a 412. */
  expectedVersion?: number | undefined;
  /** Refuses (throws) when the actor may not make this change to this user; runs on the locked row. */
  authorize?: (user: User) => void;
  command: UserCommand;
  /** A session to keep when the change ends the user's sessions (the one changing its own password). */
  keepSessionIdHash?: string | undefined;
}

export async function createUserIn(trx: Kysely<Database>, input: NewUserInput): Promise<User> {
  const now = await databaseNow(trx);
  const command: UserCommand = { type: 'create', user: input.user, ...(input.passwordHash ? { passwordHash: input.passwordHash } : {}) };
  const decision = decideUser(undefined, command, { actor: input.actor, reason: input.reason, now });
  await createUserStore(trx).insert(decision);
  return decision.user;
}

export async function changeUserIn(trx: Kysely<Database>, input: UserChange): Promise<{ user: User; sessionsEnded: number }> {
  const users = createUserStore(trx);
  const user = await users.findForUpdate(input.userId);
  if (!user) throw new TesseraError('USER_NOT_FOUND', `No user has id ${input.userId}; list users with GET /v1/users`);
  input.authorize?.(user);
  if (input.expectedVersion !== undefined && input.expectedVersion !== user.version) {
    throw new TesseraError('VERSION_MISMATCH', `User ${user.id} is at version ${user.version}, not ${input.expectedVersion}: read it again (GET /v1/users/${user.id}) and resend with If-Match: "v${user.version}"`);
  }
  const now = await databaseNow(trx);
  const decision: UserDecision = decideUser(user, input.command, { actor: input.actor, reason: input.reason, now });
  await users.save(decision);
  const sessionsEnded = decision.revokeSessions ? await createSessionStore(trx).revokeAllFor(user.id, input.keepSessionIdHash) : 0;
  return { user: decision.user, sessionsEnded };
}

export function createUserCommands(deps: { writes: IdempotentWriter }) {
  return {
    async create(idem: IdempotencyRequest | undefined, input: NewUserInput & { view: (u: User) => unknown }): Promise<WriteResponse> {
      return deps.writes.run(idem, {
        effect: async (trx) => {
          const user = await createUserIn(trx, input);
          return { answer: { statusCode: 201, body: input.view(user), headers: { location: `/v1/users/${user.id}`, etag: `"v${user.version}"` } } };
        },
      });
    },

    /** `view` gives the answer's body; `undefined` answers 204. */
    async change(idem: IdempotencyRequest | undefined, input: UserChange & { view: (u: User) => unknown }): Promise<WriteResponse> {
      return deps.writes.run(idem, {
        effect: async (trx) => {
          const { user } = await changeUserIn(trx, input);
          const body = input.view(user);
          const answer: WriteAnswer = body === undefined ? { statusCode: 204 } : { statusCode: 200, body, headers: { etag: `"v${user.version}"` } };
          return { answer };
        },
      });
    },
  };
}

export type UserCommands = ReturnType<typeof createUserCommands>;
