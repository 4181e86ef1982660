/**
 * The journal is append-only in the database (migration 0008): UPDATE, DELETE and TRUNCATE fail
 * whoever sends them, on real Postgres and on the embedded PGlite; the erasure path
 * (`withJournalErasure`, a transaction-local setting) is the one way through.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withJournalErasure } from '../../src/persistence/journal-erasure.js';
import { migrateToLatest } from '../../src/persistence/migrate.js';
import type { Database } from '../../src/persistence/schema.js';
import { openDatabase, type DatabaseHandle } from '../../src/platform/database.js';
import { createPrivateDatabase } from '../jobs/timer-stack.js';

const REFUSED = /the journal is append-only: (UPDATE|DELETE|TRUNCATE) of journal rows is refused/;

async function insertEntries(db: Kysely<Database>, caseId: string, count: number) {
  await db
    .insertInto('journal')
    .values(
      Array.from({ length: count }, (_, i) => ({
        case_id: caseId,
        version: 1,
        idx: i,
        type: 'case.opened',
        actor_id: 'ada',
        actor_role: 'agent',
        reason: null,
        data: JSON.stringify({ i }),
        at: new Date(),
      })),
    )
    .execute();
}

const entries = (db: Kysely<Database>, caseId: string) =>
  db.selectFrom('journal').select(['idx', 'reason', 'type']).where('case_id', '=', caseId).orderBy('idx').execute();

/** The same checks on both engines. */
function appendOnlyChecks(open: () => DatabaseHandle) {
  it('refuses UPDATE, DELETE and TRUNCATE of journal rows and leaves them as they were', async () => {
    const { db } = open();
    await insertEntries(db, 'case-a', 2);
    const before = await entries(db, 'case-a');

    const update = await db.updateTable('journal').set({ reason: 'rewritten' }).where('case_id', '=', 'case-a').execute().catch((e: unknown) => e);
    expect(update).toBeInstanceOf(Error);
    expect((update as Error).message).toMatch(REFUSED);
    expect((update as { code?: string }).code).toBe('55000');

    const del = await db.deleteFrom('journal').where('case_id', '=', 'case-a').execute().catch((e: unknown) => e);
    expect((del as Error).message).toMatch(REFUSED);
    // Also a statement that matches no row: the rule is about the statement, not the rows.
    const none = await db.deleteFrom('journal').where('case_id', '=', 'no-such-case').execute().catch((e: unknown) => e);
    expect((none as Error).message).toMatch(REFUSED);
    const truncate = await sql`truncate journal`.execute(db).catch((e: unknown) => e);
    expect((truncate as Error).message).toMatch(REFUSED);

    expect(await entries(db, 'case-a')).toEqual(before);
    // Inserting is what the journal is for.
    await insertEntries(db, 'case-b', 1);
    expect(await entries(db, 'case-b')).toHaveLength(1);
  });

  it('lets the erasure path change and delete rows, within its transaction only', async () => {
    const { db } = open();
    await insertEntries(db, 'case-e', 3);
    await withJournalErasure(db, async (trx) => {
      await trx.updateTable('journal').set({ reason: '[erased]' }).where('case_id', '=', 'case-e').where('idx', '=', 0).execute();
      await trx.deleteFrom('journal').where('case_id', '=', 'case-e').where('idx', '=', 2).execute();
    });
    expect(await entries(db, 'case-e')).toEqual([
      { idx: 0, reason: '[erased]', type: 'case.opened' },
      { idx: 1, reason: null, type: 'case.opened' },
    ]);
    // The setting ended with that transaction: the same session refuses again.
    const after = await db.deleteFrom('journal').where('case_id', '=', 'case-e').execute().catch((e: unknown) => e);
    expect((after as Error).message).toMatch(REFUSED);
    expect(await entries(db, 'case-e')).toHaveLength(2);
  });
}

describe('journal append-only on Postgres', () => {
  let database: DatabaseHandle;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const privateDb = await createPrivateDatabase();
    drop = privateDb.drop;
    database = await openDatabase({ databaseUrl: privateDb.url, dataDir: '/nonexistent', poolSize: 2 });
  });
  afterAll(async () => {
    await database?.close();
    await drop?.();
  });
  appendOnlyChecks(() => database);
});

describe('journal append-only on embedded PGlite', () => {
  let database: DatabaseHandle;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-journal-'));
    database = await openDatabase({ databaseUrl: undefined, dataDir: dir });
    const applied = await migrateToLatest(database.db);
    expect(applied.map((m) => m.migrationName)).toContain('0008_journal_append_only');
  }, 120_000);
  afterAll(async () => {
    await database?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  appendOnlyChecks(() => database);
});
