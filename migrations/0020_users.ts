import { sql, type Kysely } from 'kysely';

/**
 * People: the agents, supervisors and admins who sign in. Integrations are not users: an API
 * key belongs either to a user (`user_id` names a row here) or to an integration (`kind =
 * 'integration'`, `user_id` is the integration's name). Numbered 0020 so that 0010-0019 stay
 * free for the customer aggregate, which is built on another branch.
 *
 * - `skills`: `{ "<skill>": <level 1-5> }`.
 * - `capacity`: work units a user carries at once, per kind of work: `{ "<kind>": <units> }`,
 *   `default` applying to kinds not listed.
 * - `presence`: available | away | offline; `away` and `offline` take no new work.
 * - `user_journal`: every change to a user (presence included), with actor and reason.
 * - `sessions`: server-side browser sessions; the cookie holds a random id whose SHA-256 is stored.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('username', 'text', (c) => c.notNull().unique())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('agent', 'supervisor', 'admin')`))
    .addColumn('teams', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('skills', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('capacity', 'jsonb', (c) => c.notNull().defaultTo(sql`'{"default": 5}'::jsonb`))
    .addColumn('presence', 'text', (c) => c.notNull().defaultTo('offline').check(sql`presence in ('available', 'away', 'offline')`))
    .addColumn('password_hash', 'text')
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('disabled_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('user_journal')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('actor_role', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('user_journal_pk', ['user_id', 'version'])
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('csrf_token', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('user_agent', 'text')
    .execute();
  await db.schema.createIndex('sessions_user').on('sessions').columns(['user_id']).execute();

  await db.schema
    .alterTable('api_keys')
    .addColumn('owner_kind', 'text', (c) => c.notNull().defaultTo('user').check(sql`owner_kind in ('user', 'integration')`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_keys').dropColumn('owner_kind').execute();
  for (const table of ['sessions', 'user_journal', 'users']) await db.schema.dropTable(table).execute();
}
