import { sql, type Kysely } from 'kysely';

/**
 * The case document is compressed with lz4 where the server has it. Every command rewrites
 * `cases.state` (about 1.8 kB of JSON, so the row passes the 2 kB TOAST threshold and is
 * compressed on every write); pglz spent 6 % of the backends' CPU in `npm run bench` (perf), and
 * lz4 took Postgres CPU per event from 0.30–0.36 to 0.28–0.31 ms in alternating runs, for rows
 * about 10 % larger (1,336 bytes stored instead of 1,208). Only later writes change; rows already
 * stored stay pglz until their case next changes. Servers built without lz4 (and the embedded
 * PGlite) keep pglz: nothing to do.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    do $$
    begin
      if exists (select 1 from pg_settings where name = 'default_toast_compression' and 'lz4' = any(enumvals)) then
        alter table cases alter column state set compression lz4;
      end if;
    end $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table cases alter column state set compression default`.execute(db);
}
