/**
 * Which driver errors mean "the database is unavailable" (503, retry later) — taken from the real
 * driver against the real server, not written by hand — and which do not (a bad statement is a bug
 * or a refusal, never a reason to retry).
 */
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { TesseraError } from '../../src/errors.js';
import { isDatabaseUnavailable, isUniqueViolation } from '../../src/persistence/driver-errors.js';

async function caught(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (err) {
    return err;
  }
  throw new Error('expected the work to fail');
}

describe('isDatabaseUnavailable', () => {
  it('recognises a refused connection', async () => {
    // Port 1 on loopback: nothing listens there.
    const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:1/postgres' });
    const err = await caught(() => client.connect());
    expect(isDatabaseUnavailable(err)).toBe(true);
  });

  it('recognises a terminated backend (57P01), on the statement it interrupts and on the next one', async () => {
    const client = new pg.Client({ connectionString: inject('databaseUrl') });
    client.on('error', () => {}); // the test owns this client's fate
    await client.connect();
    const killer = new pg.Client({ connectionString: inject('databaseUrl') });
    await killer.connect();
    try {
      const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
      const sleeping = caught(() => client.query('select pg_sleep(10)'));
      // Wait until the sleep is running, then terminate its backend.
      for (let i = 0; i < 100; i++) {
        const active = await killer.query(`select 1 from pg_stat_activity where pid = $1 and query like 'select pg_sleep%'`, [rows[0]!.pid]);
        if (active.rowCount) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await killer.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
      const err = await sleeping;
      expect((err as { code?: string }).code).toBe('57P01');
      expect(isDatabaseUnavailable(err)).toBe(true);
      const next = await caught(() => client.query('select 1'));
      expect(isDatabaseUnavailable(next)).toBe(true);
    } finally {
      await killer.end();
      await client.end().catch(() => {});
    }
  });

  it("recognises the pool's connection timeout", async () => {
    // One connection, held: the next checkout waits for the timeout (long enough for the first
    // connect on a loaded machine; retried if even that was too short).
    const pool = new pg.Pool({ connectionString: inject('databaseUrl'), max: 1, connectionTimeoutMillis: 1_500 });
    let held: pg.PoolClient | undefined;
    for (let i = 0; i < 3 && !held; i++) held = await pool.connect().catch(() => undefined);
    if (!held) throw new Error('could not connect');
    try {
      const err = await caught(() => pool.query('select 1'));
      expect((err as Error).message).toBe('timeout exceeded when trying to connect');
      expect(isDatabaseUnavailable(err)).toBe(true);
    } finally {
      held.release();
      await pool.end();
    }
  });

  it('recognises connection-class SQLSTATEs and errors wrapped in cause or AggregateError', () => {
    for (const code of ['08006', '08001', '57P01', '57P02', '57P03', '53300']) {
      expect({ code, unavailable: isDatabaseUnavailable(Object.assign(new Error('x'), { code })) }).toEqual({ code, unavailable: true });
    }
    const refused = Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' });
    expect(isDatabaseUnavailable(new AggregateError([refused], ''))).toBe(true);
    expect(isDatabaseUnavailable(new Error('wrapped', { cause: new Error('Connection terminated unexpectedly') }))).toBe(true);
  });

  it('does not take a bad statement, a constraint or a domain refusal for an outage', async () => {
    const client = new pg.Client({ connectionString: inject('databaseUrl') });
    await client.connect();
    try {
      const syntax = await caught(() => client.query('selec 1'));
      expect((syntax as { code?: string }).code).toBe('42601');
      expect(isDatabaseUnavailable(syntax)).toBe(false);
      const division = await caught(() => client.query('select 1/0'));
      expect((division as { code?: string }).code).toBe('22012');
      expect(isDatabaseUnavailable(division)).toBe(false);
      // The client is still usable: nothing about it was a connection failure.
      expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end();
    }
    expect(isDatabaseUnavailable(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isUniqueViolation(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(true);
    expect(isDatabaseUnavailable(new TesseraError('CASE_NOT_FOUND', 'No case'))).toBe(false);
    expect(isDatabaseUnavailable(new Error('boom'))).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
    expect(isDatabaseUnavailable('Connection terminated')).toBe(false);
  });
});
