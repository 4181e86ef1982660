/**
 * What routing reads of a person (the `users` table of migration 0020): role, teams, skills,
 * capacity and presence. The people branch owns writing users; this file only reads them, in
 * the routing transaction.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Role } from '../cases/types.js';
import type { Database } from './schema.js';

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

interface Row {
  id: string;
  display_name: string;
  role: string;
  teams: string[];
  skills: Record<string, number>;
  capacity: Record<string, number>;
  presence: string;
  disabled_at: Date | null;
  used: Record<string, number> | null;
}

function toProfile(row: Row): WorkerProfile {
  return {
    id: row.id,
    displayName: row.display_name,
    role: row.role as WorkerProfile['role'],
    teams: row.teams,
    skills: row.skills ?? {},
    capacity: row.capacity ?? {},
    presence: row.presence as WorkerProfile['presence'],
    disabled: row.disabled_at !== null,
    used: row.used ?? {},
  };
}

/**
 * Locks the person's row (`FOR UPDATE`: one assignment to them at a time, so capacity holds under
 * concurrency) and reads their profile with the units their open tasks use per bucket, in one
 * statement. Undefined when there is no such user.
 */
export async function lockWorker(trx: Transaction<Database>, userId: string): Promise<WorkerProfile | undefined> {
  const { rows } = await sql<Row>`
    select u.id, u.display_name, u.role, u.teams, u.skills, u.capacity, u.presence, u.disabled_at,
      (select jsonb_object_agg(b.bucket, b.units) from (
         select case when u.capacity ? t.kind then t.kind else 'default' end as bucket, sum(t.effort)::int as units
         from tasks t where t.assignee_id = u.id and t.status = 'open' group by 1) b) as used
    from users u where u.id = ${userId}
    for update of u`.execute(trx);
  return rows[0] ? toProfile(rows[0]) : undefined;
}

/** Every person (for the workload view), without locks. */
export async function listWorkers(db: Kysely<Database>): Promise<Omit<WorkerProfile, 'used'>[]> {
  const rows = await db
    .selectFrom('users')
    .select(['id', 'display_name', 'role', 'teams', 'skills', 'capacity', 'presence', 'disabled_at'])
    .where('disabled_at', 'is', null)
    .orderBy('id')
    .execute();
  return rows.map((r) => toProfile({ ...(r as unknown as Row), used: null }));
}
