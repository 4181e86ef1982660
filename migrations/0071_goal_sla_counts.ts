import { sql, type Kysely } from 'kysely';

/**
 * SLA tile counts, kept by the database: `GET /v1/goals/summary` and the live stream's `tiles`
 * (read every second while anything changes) counted every open goal on an active case on each
 * call — 140,000 index entries at 1,000,000 goal rows. They now sum one row per
 * (template, queue, SLA state), `goal_sla_counts`, plus its not yet folded deltas.
 *
 * Counted: what GET /v1/goals lists — `status = 'open' and case_status in ('open', 'on_hold') and
 * deadline_at is not null` — under `coalesce(sla, 'on_track')` (a goal no SLA point has fired for
 * is on track).
 *
 * Kept exact the way 0070 keeps the attainment rollup: statement-level triggers on goal_views
 * (transition tables: one insert per command statement, none when a statement changes nothing
 * counted) append the difference to the append-only `goal_sla_count_deltas`, so concurrent
 * commands never wait on a shared counter row; the workers' goal rollup fold
 * (persistence/goal-attainment.ts) moves the deltas into `goal_sla_counts` every few seconds.
 *
 * The next breach (the soonest deadline of such a goal not yet breached) is one index probe per
 * queue: `goal_views_active_unbreached` holds only those goals, by queue and deadline (with the
 * template, for the template filter). The active indexes of 0003 would do, but they put the
 * breached goals — the earliest deadlines — first, so finding the first unbreached one read
 * thousands of entries.
 */
const COUNTED = `status = 'open' and case_status in ('open', 'on_hold') and deadline_at is not null`;

function contributions(table: string, sign: '+' | '-'): string {
  return `select template_key, queue, coalesce(sla, 'on_track') as sla, ${sign}1 as n from ${table} where ${COUNTED}`;
}

function deltaInsert(parts: string[]): string {
  return `insert into goal_sla_count_deltas (template_key, queue, sla, n)
    select template_key, queue, sla, sum(n)::int
    from (${parts.join(' union all ')}) x
    group by template_key, queue, sla
    having sum(n) <> 0`;
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table goal_sla_counts (
      template_key text not null,
      queue text,
      sla text not null,
      n integer not null
    )`.execute(db);
  await sql`create unique index goal_sla_counts_key on goal_sla_counts (template_key, queue, sla) nulls not distinct`.execute(db);
  await sql`
    create table goal_sla_count_deltas (
      id bigint generated always as identity primary key,
      template_key text not null,
      queue text,
      sla text not null,
      n integer not null
    )`.execute(db);
  // Every row is deleted within seconds of its insert: vacuum it by row count, not by table size.
  await sql`alter table goal_sla_count_deltas set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 1000)`.execute(db);

  await sql.raw(`
    create function goal_sla_counts_on_insert() returns trigger language plpgsql as $$
    begin
      ${deltaInsert([contributions('new_rows', '+')])};
      return null;
    end $$`).execute(db);
  await sql.raw(`
    create function goal_sla_counts_on_update() returns trigger language plpgsql as $$
    begin
      ${deltaInsert([contributions('new_rows', '+'), contributions('old_rows', '-')])};
      return null;
    end $$`).execute(db);
  await sql.raw(`
    create function goal_sla_counts_on_delete() returns trigger language plpgsql as $$
    begin
      ${deltaInsert([contributions('old_rows', '-')])};
      return null;
    end $$`).execute(db);
  await sql`create trigger goal_sla_counts_insert after insert on goal_views referencing new table as new_rows
    for each statement execute function goal_sla_counts_on_insert()`.execute(db);
  await sql`create trigger goal_sla_counts_update after update on goal_views referencing old table as old_rows new table as new_rows
    for each statement execute function goal_sla_counts_on_update()`.execute(db);
  await sql`create trigger goal_sla_counts_delete after delete on goal_views referencing old table as old_rows
    for each statement execute function goal_sla_counts_on_delete()`.execute(db);

  // The goals already there (in the same transaction as the triggers: no write falls between).
  await sql.raw(`
    insert into goal_sla_counts (template_key, queue, sla, n)
    select template_key, queue, sla, sum(n)::int from (${contributions('goal_views', '+')}) x
    group by template_key, queue, sla`).execute(db);

  await sql.raw(`create index goal_views_active_unbreached on goal_views (queue, deadline_at) include (template_key)
    where ${COUNTED} and coalesce(sla, 'on_track') <> 'breached'`).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists goal_views_active_unbreached`.execute(db);
  await sql`drop trigger if exists goal_sla_counts_insert on goal_views`.execute(db);
  await sql`drop trigger if exists goal_sla_counts_update on goal_views`.execute(db);
  await sql`drop trigger if exists goal_sla_counts_delete on goal_views`.execute(db);
  await sql`drop function if exists goal_sla_counts_on_insert(), goal_sla_counts_on_update(), goal_sla_counts_on_delete()`.execute(db);
  await sql`drop table if exists goal_sla_count_deltas`.execute(db);
  await sql`drop table if exists goal_sla_counts`.execute(db);
}
