import { sql, type Kysely } from 'kysely';

/**
 * SLA attainment, rolled up by day: `GET /v1/reports/sla-attainment` over a year aggregated every
 * goal of the year on each call (183,000 goals: 125 ms at 200,000 goal rows, 0.9-1.5 s at
 * 1,000,000). The report now sums one row per (UTC day, template, queue) for the whole days of its
 * period that lie before today, and reads goal_views only for the partial days at its edges and
 * for today onwards (where an open goal can still be pending rather than breached).
 *
 * A goal counts on the day of its outcome time, coalesce(achieved_at, deadline_at), as
 * on time / late (achieved) or open (not achieved: breached once that day is past), when it has a
 * deadline and neither it nor its case is cancelled — the report's own rules.
 *
 * Kept exact, not refreshed: statement-level triggers on goal_views (transition tables, so one
 * insert per command statement, not per row) append the difference each write makes to
 * `goal_attainment_deltas` — an append-only table, so concurrent commands never wait on a shared
 * counter row — and the workers fold the deltas into `goal_attainment_days` every few seconds
 * (persistence/goal-attainment.ts). The report reads both, so it is exact before a fold too.
 */
const COUNTED = `deadline_at is not null and status in ('achieved', 'open') and case_status <> 'cancelled'`;
const BUCKET = `date_bin(interval '1 day', coalesce(achieved_at, deadline_at), timestamptz '2000-01-01 00:00:00+00')`;

function contributions(table: string, sign: '+' | '-'): string {
  return `select ${BUCKET} as day, template_key, queue,
      ${sign}(status = 'achieved' and not achieved_late)::int as on_time,
      ${sign}(status = 'achieved' and achieved_late)::int as late,
      ${sign}(status = 'open')::int as open
    from ${table} where ${COUNTED}`;
}

function deltaInsert(parts: string[]): string {
  return `insert into goal_attainment_deltas (day, template_key, queue, on_time, late, open)
    select day, template_key, queue, sum(on_time)::int, sum(late)::int, sum(open)::int
    from (${parts.join(' union all ')}) x
    group by day, template_key, queue
    having sum(on_time) <> 0 or sum(late) <> 0 or sum(open) <> 0`;
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table goal_attainment_days (
      day timestamptz not null,
      template_key text not null,
      queue text,
      on_time integer not null,
      late integer not null,
      open integer not null
    )`.execute(db);
  await sql`create unique index goal_attainment_days_key on goal_attainment_days (day, template_key, queue) nulls not distinct`.execute(db);
  await sql`
    create table goal_attainment_deltas (
      id bigint generated always as identity primary key,
      day timestamptz not null,
      template_key text not null,
      queue text,
      on_time integer not null,
      late integer not null,
      open integer not null
    )`.execute(db);
  await sql`create index goal_attainment_deltas_day on goal_attainment_deltas (day)`.execute(db);
  // Every row is deleted within seconds of its insert: vacuum it by row count, not by table size.
  await sql`alter table goal_attainment_deltas set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 1000)`.execute(db);

  await sql.raw(`
    create function goal_attainment_on_insert() returns trigger language plpgsql as $$
    begin
      ${deltaInsert([contributions('new_rows', '+')])};
      return null;
    end $$`).execute(db);
  await sql.raw(`
    create function goal_attainment_on_update() returns trigger language plpgsql as $$
    begin
      ${deltaInsert([contributions('new_rows', '+'), contributions('old_rows', '-')])};
      return null;
    end $$`).execute(db);
  await sql.raw(`
    create function goal_attainment_on_delete() returns trigger language plpgsql as $$
    begin
      ${deltaInsert([contributions('old_rows', '-')])};
      return null;
    end $$`).execute(db);
  await sql`create trigger goal_attainment_insert after insert on goal_views referencing new table as new_rows
    for each statement execute function goal_attainment_on_insert()`.execute(db);
  await sql`create trigger goal_attainment_update after update on goal_views referencing old table as old_rows new table as new_rows
    for each statement execute function goal_attainment_on_update()`.execute(db);
  await sql`create trigger goal_attainment_delete after delete on goal_views referencing old table as old_rows
    for each statement execute function goal_attainment_on_delete()`.execute(db);

  // The goals already there (in the same transaction as the triggers: no write falls between).
  await sql.raw(`
    insert into goal_attainment_days (day, template_key, queue, on_time, late, open)
    select day, template_key, queue, sum(on_time)::int, sum(late)::int, sum(open)::int
    from (${contributions('goal_views', '+')}) x
    group by day, template_key, queue`).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger if exists goal_attainment_insert on goal_views`.execute(db);
  await sql`drop trigger if exists goal_attainment_update on goal_views`.execute(db);
  await sql`drop trigger if exists goal_attainment_delete on goal_views`.execute(db);
  await sql`drop function if exists goal_attainment_on_insert(), goal_attainment_on_update(), goal_attainment_on_delete()`.execute(db);
  await sql`drop table if exists goal_attainment_deltas`.execute(db);
  await sql`drop table if exists goal_attainment_days`.execute(db);
}
