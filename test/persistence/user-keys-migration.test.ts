/**
 * Migration 0021 on a database that has keys from before users existed: every person key gets
 * its user (highest role, union of teams), integrator keys become integration-owned, and the
 * database then holds the rule. A throwaway database of its own (created and dropped here).
 */
import { randomBytes } from 'node:crypto';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { migrations } from '../../migrations/index.js';
import { migrateToLatest } from '../../src/persistence/migrate.js';

const name = `tessera_mig_${randomBytes(4).toString('hex')}`;
let admin: pg.Client;
let db: Kysely<any>;

beforeAll(async () => {
  const url = new URL(inject('databaseUrl'));
  admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  await admin.query(`create database ${name}`);
  url.pathname = `/${name}`;
  db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url.toString(), max: 2 }) }) });
});
afterAll(async () => {
  await db?.destroy();
  await admin.query(`drop database if exists ${name}`);
  await admin.end();
});

describe('migration 0021_user_keys', () => {
  it('backfills users from existing keys and then enforces key ownership', async () => {
    const upTo0020 = Object.fromEntries(Object.entries(migrations).filter(([k]) => k <= '0020_users'));
    const { error } = await new Migrator({ db, provider: { getMigrations: async () => upTo0020 }, allowUnorderedMigrations: true }).migrateToLatest();
    expect(error).toBeUndefined();
    const key = (id: string, role: string, user: string, teams: string[]) => ({ id: `00000000-0000-0000-0000-00000000000${id}`, prefix: 'tsk_', key_hash: `h${id}`, role, user_id: user, name: 'old', teams });
    await db.insertInto('api_keys').values([key('1', 'agent', 'ada', ['billing']), key('2', 'supervisor', 'ada', ['social']), key('3', 'agent', 'bob', []), key('4', 'integrator', 'crm', ['x'])]).execute();

    await migrateToLatest(db);

    const users = await db.selectFrom('users').select(['id', 'username', 'role', 'teams', 'presence', 'password_hash']).orderBy('id').execute();
    expect(users).toEqual([
      { id: 'ada', username: 'ada', role: 'supervisor', teams: ['billing', 'social'], presence: 'offline', password_hash: null },
      { id: 'bob', username: 'bob', role: 'agent', teams: [], presence: 'offline', password_hash: null },
    ]);
    const journal = await db.selectFrom('user_journal').select(['user_id', 'version', 'type', 'actor_id']).orderBy('user_id').execute();
    expect(journal).toEqual([
      { user_id: 'ada', version: 1, type: 'user.created', actor_id: 'migration' },
      { user_id: 'bob', version: 1, type: 'user.created', actor_id: 'migration' },
    ]);
    const keys = await db.selectFrom('api_keys').select(['user_id', 'owner_kind', 'user_ref']).orderBy('id').execute();
    expect(keys).toEqual([
      { user_id: 'ada', owner_kind: 'user', user_ref: 'ada' },
      { user_id: 'ada', owner_kind: 'user', user_ref: 'ada' },
      { user_id: 'bob', owner_kind: 'user', user_ref: 'bob' },
      { user_id: 'crm', owner_kind: 'integration', user_ref: null },
    ]);
    await expect(db.insertInto('api_keys').values({ ...key('5', 'agent', 'nobody', []), owner_kind: 'user' }).execute()).rejects.toThrow(/api_keys_user_ref_fk/);
  });
});
