import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Role } from '../cases/types.js';
import type { Database } from './schema.js';

export interface Principal {
  keyId: string;
  userId: string;
  role: Role;
  /** Queues the caller works; an agent sees the cases and tasks queued to them. */
  teams: readonly string[];
}

export interface CreatedApiKey extends Principal {
  /** The only time the secret exists in clear; it is stored hashed. */
  key: string;
  name: string;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** `tsk_` + 32 random bytes (base64url): long enough that a plain SHA-256 is a safe store. */
export function generateApiKey(): string {
  return `tsk_${randomBytes(32).toString('base64url')}`;
}

export function createApiKeyStore(db: Kysely<Database>) {
  return {
    async create(input: { role: Role; userId: string; name: string; teams?: readonly string[] }): Promise<CreatedApiKey> {
      const teams = [...new Set(input.teams ?? [])];
      const key = generateApiKey();
      const id = randomUUID();
      await db
        .insertInto('api_keys')
        .values({
          id,
          prefix: key.slice(0, 10),
          key_hash: hashApiKey(key),
          role: input.role,
          user_id: input.userId,
          name: input.name,
          teams,
          revoked_at: null,
        })
        .execute();
      return { keyId: id, key, role: input.role, userId: input.userId, name: input.name, teams };
    },

    /** The principal for a presented key, or undefined when unknown or revoked. */
    async findByKey(key: string): Promise<Principal | undefined> {
      const row = await db
        .selectFrom('api_keys')
        .select(['id', 'role', 'user_id', 'teams'])
        .where('key_hash', '=', hashApiKey(key))
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return row ? { keyId: row.id, userId: row.user_id, role: row.role as Role, teams: row.teams } : undefined;
    },

    async revoke(id: string): Promise<boolean> {
      const result = await db
        .updateTable('api_keys')
        .set({ revoked_at: new Date() })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },
  };
}

export type ApiKeyStore = ReturnType<typeof createApiKeyStore>;
