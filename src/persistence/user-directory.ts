/**
 * What routing reads of a person: the user (people/user.ts, mapped by the user store's
 * `rowToUser`) and the units their open tasks use. The user store owns writing users; routing
 * reads the row under lock together with the units in one statement (one round trip instead of
 * `findForUpdate` plus a second query), through the store's own row mapping.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Role } from '../cases/types.js';
import type { Database } from './schema.js';
import { rowToUser } from './user-store.js';

export interface WorkerProfile {
  id: string;
  displayName: string;
  role: Extract<Role, 'agent' | 'supervisor' | 'admin'>;
  teams: string[];
  skills: Record<string, number>;
  /** `{ kind: units, default: units }`; a kind not listed counts against `default`. */
  capacity: Record<string, number>;
  presence: 'available' | 'away' | 'offline';
  disabled: boolean;
  /** Units of open tasks held per capacity bucket (see cases/task-eligibility.ts `capacityBucket`). */
  used: Record<string, number>;
}

type Row = Parameters<typeof rowToUser>[0] & { used: Record<string, number> | null };

function toProfile(row: Row): WorkerProfile {
  const user = rowToUser(row);
  return {
    id: user.id,
    displayName: user.displayName,
    role: user.role,
    teams: [...user.teams],
    skills: { ...(user.skills ?? {}) },
    capacity: { ...(user.capacity ?? {}) },
    presence: user.presence,
    disabled: user.disabledAt !== null,
    used: row.used ?? {},
  };
}

const USER_COLUMNS = sql`u.id, u.username, u.display_name, u.role, u.teams, u.skills, u.capacity, u.presence, u.version,
  u.created_at, u.updated_at, u.disabled_at, u.password_hash is not null as has_password`;

/**
 * Locks the person's row (`FOR UPDATE`: one assignment to them at a time, so capacity holds under
 * concurrency) and reads their profile with the units their open tasks use per bucket, in one
 * statement. Undefined when there is no such user.
 */
export async function lockWorker(trx: Transaction<Database>, userId: string): Promise<WorkerProfile | undefined> {
  const { rows } = await sql<Row>`
    select ${USER_COLUMNS},
      (select jsonb_object_agg(b.bucket, b.units) from (
         select case when u.capacity ? t.kind then t.kind else 'default' end as bucket, sum(t.effort)::int as units
         from tasks t where t.assignee_id = u.id and t.status = 'open' group by 1) b) as used
    from users u where u.id = ${userId}
    for update of u`.execute(trx);
  return rows[0] ? toProfile(rows[0]) : undefined;
}

/** Every person (for the workload view), without locks. */
export async function listWorkers(db: Kysely<Database>): Promise<Omit<WorkerProfile, 'used'>[]> {
  const { rows } = await sql<Row>`select ${USER_COLUMNS}, null::jsonb as used from users u where u.disabled_at is null order by u.id`.execute(db);
  return rows.map((r) => toProfile(r));
}
