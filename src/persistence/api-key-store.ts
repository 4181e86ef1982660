/**
 * API keys. A key belongs to a user (`owner_kind = 'user'`: user_id names a users row, which
 * the database enforces through `user_ref`) or to an integration (`owner_kind = 'integration'`,
 * role integrator: user_id is the integration's name; integrations are not users).
 *
 * A user key acts with its own role capped at its user's current role (a demotion takes effect
 * on every key at once; a promotion does not widen existing keys), with the user's teams, and
 * only while the user is enabled.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Role } from '../cases/types.js';
import { TesseraError } from '../errors.js';
import { nonUserPrincipal, type Principal } from '../people/principal.js';
import { decideUser, isUserRole, roleWithin } from '../people/user.js';
import type { Database } from './schema.js';
import { createUserStore, databaseNow, JOINED_USER_COLUMNS, principalOfUser, rowToUser } from './user-store.js';

export type { Principal } from '../people/principal.js';

export interface CreatedApiKey {
  keyId: string;
  /** The only time the secret exists in clear; it is stored hashed. */
  key: string;
  role: Role;
  userId: string;
  ownerKind: 'user' | 'integration';
  name: string;
  teams: readonly string[];
  /** True when the key's user did not exist and was created with it. */
  userCreated: boolean;
}

export interface KeyRequest {
  role: Role;
  userId: string;
  name: string;
  /** For a new user: their teams. For an existing user: must equal theirs (set teams on the user). */
  teams?: readonly string[];
  /** Who creates it (journaled when the user is created with the key). */
  actor?: { id: string; role: string };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** `tsk_` + 32 random bytes (base64url): long enough that a plain SHA-256 is a safe store. */
export function generateApiKey(): string {
  return `tsk_${randomBytes(32).toString('base64url')}`;
}

const ownerProblem = (pointer: string, detail: string, message: string) => new TesseraError('KEY_OWNER_INVALID', message, { errors: [{ pointer, detail }] });

export function createApiKeyStore(db: Kysely<Database>) {
  const inTransaction = <T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> => (db.isTransaction ? fn(db) : db.transaction().execute(fn));

  return {
    /**
     * Creates a key. For a person role (agent, supervisor, admin) whose user_id names no user
     * yet, the user is created in the same transaction (id = username = user_id, the key's role
     * and teams; journaled) — the path every key took before users existed. Refused (422
     * KEY_OWNER_INVALID) when the role exceeds the user's, when teams differ from the user's,
     * or when an integrator key is named after a user; 409 USER_DISABLED for a disabled user.
     */
    async create(input: KeyRequest): Promise<CreatedApiKey> {
      return inTransaction(async (trx) => {
        const users = createUserStore(trx);
        let teams: readonly string[] = [...new Set(input.teams ?? [])];
        let userCreated = false;
        const ownerKind = input.role === 'integrator' ? 'integration' : 'user';
        if (ownerKind === 'integration') {
          if (await users.find(input.userId)) {
            throw ownerProblem('/user_id', 'names a user; integrations are not users', `${input.userId} is a user; an integrator key belongs to an integration: give it the integration's name`);
          }
        } else {
          const role = input.role as Exclude<Role, 'integrator'>;
          const user = await users.findForUpdate(input.userId);
          if (!user) {
            const now = await databaseNow(trx);
            let decision;
            try {
              decision = decideUser(
                undefined,
                { type: 'create', user: { id: input.userId, username: input.userId, displayName: input.userId, role, teams } },
                { actor: input.actor ?? { id: 'system', role: 'admin' }, reason: 'created with an API key', now },
              );
            } catch (err) {
              // Problems name the key's fields (user_id), not the user's.
              if (err instanceof TesseraError && err.code === 'INVALID_USER') {
                const errors = (err.details?.errors as { pointer: string; detail: string }[]).map((e) => ({ ...e, pointer: e.pointer === '/id' || e.pointer === '/username' ? '/user_id' : e.pointer }));
                throw new TesseraError('INVALID_USER', `user_id ${errors[0]?.detail ?? 'is invalid'}`, { errors });
              }
              throw err;
            }
            await users.insert(decision);
            teams = decision.user.teams;
            userCreated = true;
          } else {
            if (user.disabledAt) throw new TesseraError('USER_DISABLED', `User ${user.id} is disabled; enable them (POST /v1/users/${user.id}/enable) before giving them a key`);
            if (!isUserRole(role) || !roleWithin(role, user.role)) {
              throw ownerProblem('/role', `exceeds the user's role ${user.role}`, `User ${user.id} has role ${user.role}; a key may not act above it (change the user's role with PATCH /v1/users/${user.id})`);
            }
            if (input.teams !== undefined && JSON.stringify([...teams].sort()) !== JSON.stringify([...user.teams].sort())) {
              throw ownerProblem('/teams', "differs from the user's teams", `A key acts with its user's teams (${user.teams.join(', ') || 'none'}); leave teams out, or change them with PATCH /v1/users/${user.id}`);
            }
            teams = user.teams;
          }
        }
        const key = generateApiKey();
        const id = randomUUID();
        await trx
          .insertInto('api_keys')
          .values({ id, prefix: key.slice(0, 10), key_hash: hashApiKey(key), role: input.role, user_id: input.userId, owner_kind: ownerKind, name: input.name, teams: [...teams], revoked_at: null })
          .execute();
        return { keyId: id, key, role: input.role, userId: input.userId, ownerKind, name: input.name, teams, userCreated };
      });
    },

    /** The principal for a presented key, or undefined when unknown, revoked, or its user disabled. */
    async findByKey(key: string): Promise<Principal | undefined> {
      const row = await db
        .selectFrom('api_keys as k')
        .leftJoin('users as u', 'u.id', 'k.user_id')
        .select([
          'k.id as key_id',
          'k.role as key_role',
          'k.user_id as key_user_id',
          'k.owner_kind',
          ...JOINED_USER_COLUMNS,
        ])
        .where('k.key_hash', '=', hashApiKey(key))
        .where('k.revoked_at', 'is', null)
        .executeTakeFirst();
      if (!row) return undefined;
      if (row.owner_kind === 'integration') {
        return nonUserPrincipal({ kind: 'integration', userId: row.key_user_id, role: row.key_role as Role, keyId: row.key_id });
      }
      if (row.id === null || row.disabled_at !== null) return undefined;
      const user = rowToUser(row as Parameters<typeof rowToUser>[0]);
      return principalOfUser(user, { via: 'api_key', keyId: row.key_id, role: row.key_role as Exclude<Role, 'integrator'> });
    },

    async revoke(id: string): Promise<boolean> {
      const result = await db.updateTable('api_keys').set({ revoked_at: new Date() }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },
  };
}

export type ApiKeyStore = ReturnType<typeof createApiKeyStore>;
