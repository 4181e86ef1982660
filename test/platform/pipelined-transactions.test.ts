/**
 * Transactions on the pool go in fewer round trips (platform/pipelined-transactions.ts): BEGIN
 * rides with the first statement, COMMIT with a statement marked COMMITS. Counted on the wire by
 * a loopback proxy (test/support/wire-counter.ts); the transaction semantics are checked from a
 * second connection that bypasses it.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { CaseState } from '../../src/cases/types.js';
import { TesseraError } from '../../src/errors.js';
import { saveDecisions } from '../../src/persistence/case-store.js';
import { COMMITS, PREPARED } from '../../src/persistence/prepared-statement.js';
import type { Database } from '../../src/persistence/schema.js';
import { openDatabase, type DatabaseHandle } from '../../src/platform/database.js';
import { startWireCounter, type WireCounter } from '../support/wire-counter.js';

const tableName = `pipelined_${randomUUID().slice(0, 8)}`;
const table = sql.table(tableName);
let counter: WireCounter;
let database: DatabaseHandle;
/** A connection of its own, past the proxy and the pool. */
let observer: pg.Client;

const valueOf = async (id: string) => (await observer.query<{ n: number }>(`select n from ${tableName} where id = $1`, [id])).rows[0]?.n;

beforeAll(async () => {
  counter = await startWireCounter(inject('databaseUrl'));
  // One connection: every statement below runs in the same session.
  database = await openDatabase({ databaseUrl: counter.url, dataDir: '/nonexistent', poolSize: 1 });
  observer = new pg.Client({ connectionString: inject('databaseUrl') });
  await observer.connect();
  await sql`create table ${table} (id text primary key, n int not null)`.execute(database.db);
});

afterAll(async () => {
  await sql`drop table if exists ${table}`.execute(database.db);
  await sql`drop table if exists pipelined_late_table`.execute(database.db);
  await observer.end();
  await database.close();
  await counter.close();
});

beforeEach(async () => {
  await sql`delete from ${table}`.execute(database.db);
  await sql`insert into ${table} (id, n) values ('a', 0), ('b', 0)`.execute(database.db);
});

/** Round trips `work` took on the pool's connection. */
async function roundTrips(work: () => Promise<unknown>): Promise<number> {
  const before = counter.roundTrips();
  await work();
  return counter.roundTrips() - before;
}

describe('pipelined transactions', () => {
  it('lock then a committing write: two round trips, and the write is committed', async () => {
    const trips = await roundTrips(() =>
      database.db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ n: number }>`${PREPARED}select n from ${table} where id = ${'a'} for update`.execute(trx);
        await sql`${PREPARED}${COMMITS}update ${table} set n = ${rows[0]!.n + 5} where id = ${'a'}`.execute(trx);
      }),
    );
    expect(trips).toBe(2);
    expect(await valueOf('a')).toBe(5);
  });

  it('without the mark, COMMIT is a round trip of its own (BEGIN still rides with the first statement)', async () => {
    const trips = await roundTrips(() =>
      database.db.transaction().execute(async (trx) => {
        await sql`select n from ${table} where id = ${'a'} for update`.execute(trx);
        await sql`update ${table} set n = ${7} where id = ${'a'}`.execute(trx);
      }),
    );
    expect(trips).toBe(3);
    expect(await valueOf('a')).toBe(7);
  });

  it('the deferred BEGIN opens a real transaction: the row stays locked until the commit', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const transaction = database.db.transaction().execute(async (trx) => {
      await sql`select n from ${table} where id = ${'a'} for update`.execute(trx);
      locked();
      await held;
      await sql`${COMMITS}update ${table} set n = ${1} where id = ${'a'}`.execute(trx);
    });
    await isLocked;
    await expect(observer.query(`select 1 from ${tableName} where id = 'a' for update nowait`)).rejects.toMatchObject({ code: '55P03' });
    expect(await valueOf('a')).toBe(0);
    release();
    await transaction;
    expect(await valueOf('a')).toBe(1);
    await expect(observer.query(`select 1 from ${tableName} where id = 'a' for update nowait`)).resolves.toBeDefined();
  });

  it('a committing statement that fails commits nothing: the earlier writes roll back, the session works on', async () => {
    await expect(
      database.db.transaction().execute(async (trx) => {
        await sql`update ${table} set n = ${100} where id = ${'a'}`.execute(trx);
        await sql`${COMMITS}insert into ${table} (id, n) values (${'b'}, ${1})`.execute(trx);
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await valueOf('a')).toBe(0);
    expect(await valueOf('b')).toBe(0);
    // The rollback ended the aborted transaction: the next one runs and commits.
    await database.db.transaction().execute(async (trx) => {
      await sql`${COMMITS}update ${table} set n = ${3} where id = ${'b'}`.execute(trx);
    });
    expect(await valueOf('b')).toBe(3);
    const { rows } = await sql<{ in_transaction: boolean }>`select now() <> statement_timestamp() as in_transaction`.execute(database.db);
    expect(rows[0]!.in_transaction).toBe(false);
  });

  it('throwing after a committing statement cannot roll it back, and says so', async () => {
    await expect(
      database.db.transaction().execute(async (trx) => {
        await sql`${COMMITS}update ${table} set n = ${9} where id = ${'a'}`.execute(trx);
        throw new Error('too late');
      }),
    ).rejects.toThrow(/its writes stand/);
    expect(await valueOf('a')).toBe(9);
  });

  it('a named statement whose Parse failed in a pipelined batch is parsed again on its next use', async () => {
    const read = () =>
      database.db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ n: number }>`${PREPARED}select n from pipelined_late_table where id = ${'a'}`.execute(trx);
        return rows;
      });
    await expect(read()).rejects.toMatchObject({ code: '42P01' });
    await sql`create table pipelined_late_table (id text primary key, n int not null)`.execute(database.db);
    await sql`insert into pipelined_late_table values ('a', 4)`.execute(database.db);
    await expect(read()).resolves.toEqual([{ n: 4 }]);
  });

  it('an empty transaction sends nothing; a first statement without parameters goes after a BEGIN of its own', async () => {
    expect(await roundTrips(() => database.db.transaction().execute(async () => {}))).toBe(0);
    const trips = await roundTrips(async () => {
      const inside = await database.db.transaction().execute(async (trx) => {
        await sql`set local statement_timeout = 1234`.execute(trx);
        const { rows } = await sql<{ v: string }>`select current_setting(${'statement_timeout'}) as v`.execute(trx);
        return rows[0]!.v;
      });
      // `set local` outside a transaction has no effect: it took because BEGIN went first.
      expect(inside).toBe('1234ms');
    });
    expect(trips).toBe(4);
    const { rows } = await sql<{ v: string }>`select current_setting(${'statement_timeout'}) as v`.execute(database.db);
    expect(rows[0]!.v).toBe('0');
  });
});

describe('the case write checks itself', () => {
  it('a case not at its expected version fails the whole statement: VERSION_MISMATCH, nothing written', async () => {
    const id = `write-check-${randomUUID()}`;
    const stamp = new Date().toISOString();
    const state = (version: number) =>
      ({ id, template: { key: 'write-check', version: 1 }, title: 'write check', status: 'open', priority: 'normal', version,
         goals: [], openedAt: stamp, updatedAt: stamp }) as unknown as CaseState;
    const journal = [{ type: 'write.check', actor: { id: 'test', role: 'system' as const }, data: {}, at: stamp }];
    const count = async (trx: Transaction<Database>) =>
      (await sql<{ version: number; journal: number }>`
        select version, (select count(*) from journal where case_id = ${id})::int as journal from cases where id = ${id}`.execute(trx)).rows[0];
    // Planted and checked inside one transaction that is rolled back: no half-made case is left
    // for the other tests' listings (the commit itself is covered on the scratch table above).
    const rolledBack = new Error('roll back the planted case');
    await expect(
      database.db.transaction().execute(async (trx) => {
        await sql`insert into cases (id, template_key, template_version, title, status, priority, version, state, opened_at, updated_at)
          values (${id}, 'write-check', 1, 'write check', 'open', 'normal', 3, '{}'::jsonb, now(), now())`.execute(trx);
        await sql`savepoint before_write`.execute(trx);
        // The row is at version 3; this decision was made on version 2.
        const stale = saveDecisions(trx, [{ previousVersion: 2, previous: state(2), next: state(3), effects: [], journal }]);
        await expect(stale).rejects.toBeInstanceOf(TesseraError);
        await expect(stale).rejects.toMatchObject({ code: 'VERSION_MISMATCH' });
        await sql`rollback to savepoint before_write`.execute(trx);
        expect(await count(trx)).toEqual({ version: 3, journal: 0 });
        // At the right version the same write applies.
        expect((await saveDecisions(trx, [{ previousVersion: 3, previous: state(3), next: state(4), effects: [], journal }])).written).toBe(1);
        expect(await count(trx)).toEqual({ version: 4, journal: 1 });
        throw rolledBack;
      }),
    ).rejects.toBe(rolledBack);
    expect((await observer.query(`select 1 from cases where id = $1`, [id])).rowCount).toBe(0);
  });
});
