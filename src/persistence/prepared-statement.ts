/**
 * Marks the hot statements (the command path's lock and write) to run as named prepared
 * statements: put it first, `sql\`${PREPARED}select …\``. Parse and plan cost about as much as
 * executing these statements (parse 0.3 + plan 0.4 ms beside a 0.7 ms execution of the write,
 * Postgres statement log at concurrency 8), paid on every command when the statement has no
 * name. Only marked statements are named, so the statements a connection keeps stay few and
 * fixed (Kysely's `in (…)` lists would make one per list length). The pool names them
 * (src/platform/database.ts); embedded mode and `TESSERA_DB_PREPARED_STATEMENTS=false` run them
 * unnamed, the comment is all that differs.
 */
import { sql, type RawBuilder } from 'kysely';

export const PREPARED_MARK = '/* tessera:prepared */ ';
export const PREPARED = sql.raw(PREPARED_MARK);

/**
 * Marks a transaction's last statement: COMMIT goes with it in the same round trip
 * (platform/pipelined-transactions.ts), and Kysely's own `commit` after it costs nothing. Put it
 * after PREPARED. Nothing after such a statement may fail: its writes are committed. Embedded mode
 * sends COMMIT as usual.
 */
export const COMMITS_MARK = '/* tessera:commits */ ';
export const COMMITS = sql.raw(COMMITS_MARK);

/**
 * An array parameter of a prepared statement, as the planner should see it: through a sub-select
 * whose value it cannot look into, so it plans for a list of unknown length (10 elements) on every
 * execution. Bound directly, the array is a constant to each custom plan, which then costs less
 * than the generic plan (planned for 10) and Postgres keeps re-planning the statement for the
 * actual length — at a cost near its execution's. Use it for `= any(…)` and `unnest(…)` in
 * statements marked {@link PREPARED}.
 */
export function opaqueArray(values: readonly (string | number)[], type: 'text' | 'int'): RawBuilder<unknown> {
  return sql`(select ${values}::${sql.raw(type)}[])::${sql.raw(type)}[]`;
}
