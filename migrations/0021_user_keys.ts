import { sql, type Kysely } from 'kysely';

/**
 * API keys belong to a user or to an integration, and the database holds it.
 *
 * - Every key of a person role (agent, supervisor, admin) created before users existed gets its
 *   user row: id = username = the key's user_id, the highest role of their keys, the union of
 *   their keys' teams, presence offline, no password (journaled as created by `migration`).
 * - Integrator keys become `owner_kind = 'integration'`; a check keeps role and owner kind paired.
 * - `user_ref` is the key's user id when it belongs to a user and null for an integration, so a
 *   plain foreign key makes every user key name an existing user (an integration's name needs no row).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    with owners as (
      select user_id,
             (array_agg(role order by case role when 'admin' then 3 when 'supervisor' then 2 else 1 end desc))[1] as role,
             coalesce((select array_agg(distinct t) from api_keys k2, unnest(k2.teams) t where k2.user_id = k.user_id and k2.role <> 'integrator'), '{}') as teams
        from api_keys k
       where role <> 'integrator'
       group by user_id
    ), created as (
      insert into users (id, username, display_name, role, teams)
      select user_id, user_id, user_id, role, teams from owners
      on conflict do nothing
      returning id, role, teams
    )
    insert into user_journal (user_id, version, type, actor_id, actor_role, reason, data, at)
    select id, 1, 'user.created', 'migration', 'admin', 'a user of the API keys that existed before users',
           jsonb_build_object('role', role, 'teams', to_jsonb(teams)), now()
      from created
  `.execute(db);
  await sql`update api_keys set owner_kind = 'integration' where role = 'integrator'`.execute(db);
  await sql`
    alter table api_keys
      add constraint api_keys_owner_kind_role check ((owner_kind = 'integration') = (role = 'integrator')),
      add column user_ref text generated always as (case when owner_kind = 'user' then user_id end) stored
        constraint api_keys_user_ref_fk references users (id)
  `.execute(db);
  await sql`create index api_keys_user_ref on api_keys (user_ref) where user_ref is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table api_keys drop column user_ref, drop constraint api_keys_owner_kind_role`.execute(db);
  await sql`update api_keys set owner_kind = 'user'`.execute(db);
}
