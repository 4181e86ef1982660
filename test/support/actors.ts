/** API keys for each role, created through the real key store. */
import type { Kysely } from 'kysely';
import type { Role } from '../../src/cases/types.js';
import { createApiKeyStore } from '../../src/persistence/api-key-store.js';
import type { Database } from '../../src/persistence/schema.js';
import { uniqueId } from './platform.js';

export interface Actor {
  userId: string;
  role: Role;
  headers: { authorization: string };
}

export async function createActor(db: Kysely<Database>, role: Role, userId = uniqueId(role)): Promise<Actor> {
  const created = await createApiKeyStore(db).create({ role, userId, name: `test ${role}` });
  return { userId, role, headers: { authorization: `Bearer ${created.key}` } };
}
