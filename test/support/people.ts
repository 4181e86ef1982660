/** People for routing tests: skills, capacity, presence and teams, set through the real user store. */
import type { Kysely } from 'kysely';
import { decideUser, type Presence } from '../../src/people/user.js';
import type { Database } from '../../src/persistence/schema.js';
import { createUserStore } from '../../src/persistence/user-store.js';

const ADMIN = { id: 'test-admin', role: 'admin' as const };

export async function updateWorker(
  db: Kysely<Database>,
  userId: string,
  changes: { skills?: Record<string, number>; capacity?: Record<string, number>; teams?: string[]; presence?: Presence },
): Promise<void> {
  const users = createUserStore(db);
  const { presence, ...rest } = changes;
  if (Object.keys(rest).length > 0) {
    const user = (await users.find(userId))!;
    await users.save(decideUser(user, { type: 'update', changes: rest }, { actor: ADMIN, now: new Date() }));
  }
  if (presence !== undefined) {
    const user = (await users.find(userId))!;
    if (user.presence !== presence) await users.save(decideUser(user, { type: 'set_presence', presence }, { actor: ADMIN, now: new Date() }));
  }
}
