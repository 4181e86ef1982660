/** API keys for each role, created through the real key store. */
import type { Kysely } from 'kysely';
import type { Role } from '../../src/cases/types.js';
import { createApiKeyStore } from '../../src/persistence/api-key-store.js';
import type { Database } from '../../src/persistence/schema.js';
import { uniqueId } from './platform.js';

export interface Actor {
  userId: string;
  role: Role;
  /** The API key's id (the rate limiter counts per key). */
  keyId: string;
  teams: readonly string[];
  headers: { authorization: string };
}

/** `teams`: the queues an agent works (they see cases and tasks queued there). */
export async function createActor(db: Kysely<Database>, role: Role, userId = uniqueId(role), teams: readonly string[] = []): Promise<Actor> {
  const created = await createApiKeyStore(db).create({ role, userId, name: `test ${role}`, teams });
  return { userId, role, keyId: created.keyId, teams: created.teams, headers: { authorization: `Bearer ${created.key}` } };
}
