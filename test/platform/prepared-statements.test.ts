/**
 * The hot statements run as named prepared statements: parsed and planned once per connection,
 * then only bound. Read back from the session's own pg_prepared_statements (a pool of one
 * connection, so every statement below runs in the same backend).
 */
import { sql } from 'kysely';
import { describe, expect, inject, it } from 'vitest';
import type { CaseState } from '../../src/cases/types.js';
import { loadCaseForUpdate, loadCasesForUpdate, saveDecisions, type SaveInput } from '../../src/persistence/case-store.js';
import { PREPARED } from '../../src/persistence/prepared-statement.js';
import { openDatabase } from '../../src/platform/database.js';

async function preparedInSession(preparedStatements: boolean, work: Parameters<typeof run>[1]) {
  const database = await openDatabase({ databaseUrl: inject('databaseUrl'), dataDir: '/nonexistent', poolSize: 1, preparedStatements });
  try {
    return await run(database, work);
  } finally {
    await database.close();
  }
}

async function run(database: Awaited<ReturnType<typeof openDatabase>>, work: (db: typeof database.db) => Promise<void>) {
  await work(database.db);
  const { rows } = await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements order by statement`.execute(database.db);
  return rows;
}

describe('named prepared statements', () => {
  it('names a marked statement once per connection, whatever its values, and leaves unmarked ones unnamed', async () => {
    const statements = await preparedInSession(true, async (db) => {
      for (const n of [1, 2, 3]) {
        const { rows } = await sql<{ n: number }>`${PREPARED}select ${n}::int as n`.execute(db);
        expect(rows).toEqual([{ n }]);
      }
      await sql`select ${4}::int as unmarked`.execute(db);
    });
    expect(statements).toHaveLength(1);
    expect(statements[0]!.name).toMatch(/^tessera_[0-9a-f]{32}$/);
    expect(statements[0]!.statement).toContain('select $1::int as n');
  });

  it('marks the command path: the case lock, single and batched, inside a transaction', async () => {
    const statements = await preparedInSession(true, async (db) => {
      await db.transaction().execute(async (trx) => {
        expect(await loadCaseForUpdate(trx, 'no-such-case')).toBeUndefined();
        expect((await loadCasesForUpdate(trx, ['no-such-case', 'nor-this'])).states.size).toBe(0);
      });
    });
    expect(statements.map((s) => s.statement.includes('for update'))).toEqual([true, true]);
  });

  it('names nothing when turned off (PgBouncer before 1.21 in transaction mode)', async () => {
    const statements = await preparedInSession(false, async (db) => {
      await sql`${PREPARED}select ${1}::int as n`.execute(db);
      await db.transaction().execute((trx) => loadCaseForUpdate(trx, 'no-such-case'));
    });
    expect(statements).toEqual([]);
  });

  it('keeps one plan per statement, driven by the primary key: no re-planning, no scan of the cases table', async () => {
    const database = await openDatabase({ databaseUrl: inject('databaseUrl'), dataDir: '/nonexistent', poolSize: 1 });
    const rolledBack = new Error('roll back the planted cases');
    try {
      await database.db
        .transaction()
        .execute(async (trx) => {
          // A table of a few thousand cases: where a hash join over a scan of all of them looks
          // cheaper than index lookups for jsonb_to_recordset's estimated 100 rows (uncommitted:
          // no other test sees them, the planner sees their pages).
          await sql`insert into cases (id, template_key, template_version, title, status, priority, version, state, opened_at, updated_at)
            select 'plan-' || n, 'plan-test', 1, 'plan test', 'open', 'normal', 1, '{}'::jsonb, now(), now()
            from generate_series(1, 3000) as n`.execute(trx);
          const stamp = new Date().toISOString();
          const state = (id: string, version: number) =>
            ({ id, template: { key: 'plan-test', version: 1 }, title: 'plan test', status: 'open', priority: 'normal', version,
               goals: [], openedAt: stamp, updatedAt: stamp }) as unknown as CaseState;
          const scans = async () =>
            (await sql<{ seq_scan: string; idx_scan: string }>`
              select seq_scan::text, idx_scan::text from pg_stat_xact_user_tables where relname = 'cases'`.execute(trx)).rows[0]!;
          const before = await scans();
          for (let version = 1; version <= 12; version++) {
            // A group of two, then of three: the statement text is the same, its arrays' lengths differ.
            const ids = version % 2 === 0 ? ['plan-7', 'plan-1500'] : ['plan-8', 'plan-9', 'plan-2999'];
            expect((await loadCasesForUpdate(trx, ids)).states.size).toBe(ids.length);
            const inputs: SaveInput[] = ids.map((id) => ({
              previousVersion: version,
              previous: state(id, version),
              next: state(id, version + 1),
              effects: [],
              journal: [{ type: 'plan.test', actor: { id: 'test', role: 'system' }, data: { version }, at: stamp }],
            }));
            // Versions: plan-7/1500 move on even rounds, the others on odd ones; set them so each save applies.
            await sql`update cases set version = ${version} where id = any(${ids}::text[])`.execute(trx);
            expect((await saveDecisions(trx, inputs)).written).toBe(ids.length);
          }
          const after = await scans();
          expect(Number(after.seq_scan) - Number(before.seq_scan)).toBe(0);
          expect(Number(after.idx_scan)).toBeGreaterThan(Number(before.idx_scan));
          const { rows } = await sql<{ statement: string; generic_plans: string; custom_plans: string }>`
            select statement, generic_plans::text, custom_plans::text from pg_prepared_statements
            where statement like '%for update%' or statement like '%updated as%'`.execute(trx);
          expect(rows).toHaveLength(2);
          // Postgres tries five custom plans, then keeps the generic one when it costs no more.
          for (const row of rows) {
            expect(Number(row.custom_plans), row.statement.slice(0, 80)).toBeLessThanOrEqual(5);
            expect(Number(row.generic_plans)).toBeGreaterThanOrEqual(7);
          }
          throw rolledBack;
        });
    } catch (err) {
      if (err !== rolledBack) throw err;
    } finally {
      await database.close();
    }
  });
});
