/**
 * What a live stream must re-read about its user while it stays open: teams (which queues and
 * cases it may see), role and whether the user was disabled. One query for every user with an
 * open stream on the process.
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface StreamUserRow {
  id: string;
  role: string;
  teams: string[];
  disabled: boolean;
  version: number;
}

export async function readStreamUsers(db: Kysely<Database>, ids: readonly string[]): Promise<Map<string, StreamUserRow>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('users').select(['id', 'role', 'teams', 'disabled_at', 'version']).where('id', 'in', [...ids]).execute();
  return new Map(rows.map((r) => [r.id, { id: r.id, role: r.role, teams: r.teams, disabled: r.disabled_at !== null, version: r.version }]));
}
