/**
 * What people carry now: units of open task effort they hold, against their capacity (the sum of
 * their capacity buckets; people/user.ts). A what-if adds the change a dry run would make.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface PersonLoad {
  userId: string;
  /** Units of effort of the open tasks they hold. */
  used: number;
  /** Sum of their capacity buckets; null for an id with no user row. */
  limit: number | null;
}

export async function peopleLoad(db: Kysely<Database>, userIds: readonly string[]): Promise<Map<string, PersonLoad>> {
  if (userIds.length === 0) return new Map();
  const { rows } = await sql<{ id: string; used: number; capacity: Record<string, number> | null }>`
    select ids.id,
      (select coalesce(sum(t.effort), 0)::int from tasks t where t.status = 'open' and t.assignee_id = ids.id) as used,
      (select u.capacity from users u where u.id = ids.id) as capacity
    from unnest(${[...userIds]}::text[]) as ids(id)`.execute(db);
  return new Map(
    rows.map((r) => [r.id, { userId: r.id, used: r.used, limit: r.capacity ? Object.values(r.capacity).reduce((a, b) => a + b, 0) : null }]),
  );
}
