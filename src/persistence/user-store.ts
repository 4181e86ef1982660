/**
 * Users and their journal in Postgres; row <-> domain mapping. Pass `trx` inside a transaction.
 * The password hash is read only by `findCredentials` (sign-in) and never mapped onto `User`.
 */
import { sql, type Kysely, type Selectable } from 'kysely';
import { TesseraError } from '../errors.js';
import type { Principal } from '../people/principal.js';
import type { Presence, User, UserDecision, UserJournalEntry, UserRole } from '../people/user.js';
import { isUniqueViolation } from './driver-errors.js';
import type { Database, UserTable } from './schema.js';

type UserRow = Selectable<UserTable>;

const USER_COLUMNS = [
  'id',
  'username',
  'display_name',
  'role',
  'teams',
  'skills',
  'capacity',
  'presence',
  'version',
  'created_at',
  'updated_at',
  'disabled_at',
] as const;

/**
 * The same columns from a join that aliases `users` as `u`, plus `has_password`: what `rowToUser`
 * maps. The key and session lookups read the user this way in their own statement.
 */
export const JOINED_USER_COLUMNS = [
  ...USER_COLUMNS.map((c) => `u.${c}` as const),
  sql<boolean>`u.password_hash is not null`.as('has_password'),
] as const;

export function rowToUser(row: Omit<UserRow, 'password_hash'> & { has_password: boolean }): User {
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    role: row.role as UserRole,
    teams: row.teams,
    skills: row.skills,
    capacity: row.capacity,
    presence: row.presence as Presence,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    disabledAt: row.disabled_at,
    hasPassword: row.has_password,
  };
}

/** The principal of a user acting through a credential (`keyRole` caps the role for API keys). */
export function principalOfUser(user: User, credential: { via: 'api_key' | 'session'; keyId: string; role?: UserRole }): Principal {
  const role = credential.role && rank(credential.role) < rank(user.role) ? credential.role : user.role;
  return {
    kind: 'user',
    userId: user.id,
    role,
    teams: user.teams,
    skills: user.skills,
    capacity: user.capacity,
    presence: user.presence,
    via: credential.via,
    keyId: credential.keyId,
  };
}

const rank = (role: UserRole) => ({ agent: 1, supervisor: 2, admin: 3 })[role];

export interface UserListFilter {
  limit: number;
  /** Keyset: ids after this one. */
  afterId?: string | undefined;
  role?: UserRole | undefined;
  team?: string | undefined;
  presence?: Presence | undefined;
  /** Include disabled users (default: yes; `false` lists active users only). */
  disabled?: boolean | undefined;
  /** Only these ids (a lookup: names for the ids a screen shows). */
  ids?: readonly string[] | undefined;
}

export function createUserStore(db: Kysely<Database>) {
  const selectUser = () =>
    db.selectFrom('users').select([...USER_COLUMNS, sql<boolean>`password_hash is not null`.as('has_password')]);

  function journalRow(e: UserJournalEntry) {
    return {
      user_id: e.userId,
      version: e.version,
      type: e.type,
      actor_id: e.actorId,
      actor_role: e.actorRole,
      reason: e.reason,
      data: JSON.stringify(e.data),
      at: e.at,
    };
  }

  return {
    async find(id: string): Promise<User | undefined> {
      const row = await selectUser().where('id', '=', id).executeTakeFirst();
      return row ? rowToUser(row) : undefined;
    },

    /** Locks the row until the transaction ends: one writer per user at a time. */
    async findForUpdate(id: string): Promise<User | undefined> {
      const row = await selectUser().where('id', '=', id).forUpdate().executeTakeFirst();
      return row ? rowToUser(row) : undefined;
    },

    /** Sign-in: the user with this username and its password hash (null when none is set). */
    async findCredentials(username: string): Promise<{ user: User; passwordHash: string | null } | undefined> {
      const row = await db
        .selectFrom('users')
        .select([...USER_COLUMNS, 'password_hash'])
        .where('username', '=', username)
        .executeTakeFirst();
      return row ? { user: rowToUser({ ...row, has_password: row.password_hash !== null }), passwordHash: row.password_hash } : undefined;
    },

    async findPasswordHash(id: string): Promise<string | null> {
      const row = await db.selectFrom('users').select('password_hash').where('id', '=', id).executeTakeFirst();
      return row?.password_hash ?? null;
    },

    /** Writes a created user and its first journal entry; USER_EXISTS when the id or username is taken. */
    async insert(decision: UserDecision): Promise<void> {
      const u = decision.user;
      try {
        await db
          .insertInto('users')
          .values({
            id: u.id,
            username: u.username,
            display_name: u.displayName,
            role: u.role,
            teams: [...u.teams],
            skills: JSON.stringify(u.skills),
            capacity: JSON.stringify(u.capacity),
            presence: u.presence,
            password_hash: decision.passwordHash ?? null,
            version: u.version,
            created_at: u.createdAt,
            updated_at: u.updatedAt,
            disabled_at: u.disabledAt,
          })
          .execute();
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new TesseraError('USER_EXISTS', `A user with id ${u.id} or username ${u.username} exists; choose another, or change that user with PATCH /v1/users/${u.id}`);
        }
        throw err;
      }
      await db.insertInto('user_journal').values(journalRow(decision.entry)).execute();
    },

    /** Writes a decided change to a user locked with findForUpdate, and its journal entry. */
    async save(decision: UserDecision): Promise<void> {
      const u = decision.user;
      const result = await db
        .updateTable('users')
        .set({
          display_name: u.displayName,
          role: u.role,
          teams: [...u.teams],
          skills: JSON.stringify(u.skills),
          capacity: JSON.stringify(u.capacity),
          presence: u.presence,
          version: u.version,
          updated_at: u.updatedAt,
          disabled_at: u.disabledAt,
          ...(decision.passwordHash !== undefined ? { password_hash: decision.passwordHash } : {}),
        })
        .where('id', '=', u.id)
        .where('version', '=', u.version - 1)
        .executeTakeFirst();
      // The row is locked, so this only fails if the caller forgot to lock it.
      if (result.numUpdatedRows !== 1n) throw new Error(`user ${u.id} changed under its lock (expected version ${u.version - 1})`);
      await db.insertInto('user_journal').values(journalRow(decision.entry)).execute();
    },

    async list(filter: UserListFilter): Promise<{ items: User[]; next: string | undefined }> {
      let q = selectUser().orderBy('id').limit(filter.limit + 1);
      if (filter.afterId !== undefined) q = q.where('id', '>', filter.afterId);
      if (filter.role !== undefined) q = q.where('role', '=', filter.role);
      if (filter.team !== undefined) q = q.where(sql<boolean>`${filter.team} = any(teams)`);
      if (filter.presence !== undefined) q = q.where('presence', '=', filter.presence);
      if (filter.disabled === false) q = q.where('disabled_at', 'is', null);
      if (filter.disabled === true) q = q.where('disabled_at', 'is not', null);
      if (filter.ids !== undefined) q = filter.ids.length === 0 ? q.where(sql<boolean>`false`) : q.where('id', 'in', [...filter.ids]);
      const rows = await q.execute();
      const items = rows.slice(0, filter.limit).map(rowToUser);
      return { items, next: rows.length > filter.limit ? items.at(-1)!.id : undefined };
    },

    /** Newest first; `beforeVersion` pages back. */
    async journal(userId: string, page: { limit: number; beforeVersion?: number | undefined }): Promise<{ items: UserJournalEntry[]; next: number | undefined }> {
      let q = db.selectFrom('user_journal').selectAll().where('user_id', '=', userId).orderBy('version', 'desc').limit(page.limit + 1);
      if (page.beforeVersion !== undefined) q = q.where('version', '<', page.beforeVersion);
      const rows = await q.execute();
      const items = rows.slice(0, page.limit).map(
        (r): UserJournalEntry => ({
          userId: r.user_id,
          version: r.version,
          type: r.type as UserJournalEntry['type'],
          actorId: r.actor_id,
          actorRole: r.actor_role,
          reason: r.reason,
          data: r.data as Record<string, unknown>,
          at: r.at,
        }),
      );
      return { items, next: rows.length > page.limit ? items.at(-1)!.version : undefined };
    },
  };
}

export type UserStore = ReturnType<typeof createUserStore>;

/** The database's time for a change (journal `at`, `updated_at`): the one clock every process shares. */
export async function databaseNow(db: Kysely<Database>): Promise<Date> {
  const { rows } = await sql<{ now: Date }>`select statement_timestamp() as now`.execute(db);
  return new Date(rows[0]!.now);
}
