/**
 * The hot statements run as named prepared statements: parsed and planned once per connection,
 * then only bound. Read back from the session's own pg_prepared_statements (a pool of one
 * connection, so every statement below runs in the same backend).
 */
import { sql } from 'kysely';
import { describe, expect, inject, it } from 'vitest';
import { loadCaseForUpdate, loadCasesForUpdate } from '../../src/persistence/case-store.js';
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
    expect(statements.map((s) => s.statement.includes('for update of cases'))).toEqual([true, true]);
  });

  it('names nothing when turned off (PgBouncer before 1.21 in transaction mode)', async () => {
    const statements = await preparedInSession(false, async (db) => {
      await sql`${PREPARED}select ${1}::int as n`.execute(db);
      await db.transaction().execute((trx) => loadCaseForUpdate(trx, 'no-such-case'));
    });
    expect(statements).toEqual([]);
  });
});
