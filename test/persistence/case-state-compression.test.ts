/**
 * Migration 0062: the case document is compressed with lz4 where the server has it (Debian's
 * PostgreSQL 15 does), and the embedded PGlite, built without lz4, still migrates.
 */
import { sql } from 'kysely';
import { describe, expect, inject, it } from 'vitest';
import { openDatabase } from '../../src/platform/database.js';
import { migrateToLatest } from '../../src/persistence/migrate.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

describe('the case document compression', () => {
  it('stores a written case document with lz4 where the server has it (pglz elsewhere)', async () => {
    const database = await openDatabase({ databaseUrl: inject('databaseUrl'), dataDir: '/nonexistent', poolSize: 1 });
    const rolledBack = new Error('roll back');
    try {
      const { rows } = await sql<{ lz4: boolean }>`
        select 'lz4' = any(enumvals) as lz4 from pg_settings where name = 'default_toast_compression'`.execute(database.db);
      const expected = rows[0]!.lz4 ? 'lz4' : 'pglz';
      await database.db
        .transaction()
        .execute(async (trx) => {
          // A document well past the 2 kB threshold, as a case with some history is.
          const state = { notes: Array.from({ length: 60 }, (_, i) => ({ n: i, text: `note number ${i} on this case` })) };
          await sql`insert into cases (id, template_key, template_version, title, status, priority, version, state, opened_at, updated_at)
            values ('compression-test', 'compression-test', 1, 'compression', 'open', 'normal', 1, ${JSON.stringify(state)}::jsonb, now(), now())`.execute(trx);
          const stored = await sql<{ method: string | null }>`
            select pg_column_compression(state) as method from cases where id = 'compression-test'`.execute(trx);
          expect(stored.rows[0]!.method).toBe(expected);
          throw rolledBack;
        });
    } catch (err) {
      if (err !== rolledBack) throw err;
    } finally {
      await database.close();
    }
  });

  it('leaves PGlite (no lz4) on pglz and migrates it all the same', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-pglite-'));
    const database = await openDatabase({ databaseUrl: undefined, dataDir });
    try {
      await migrateToLatest(database.db);
      const { rows } = await sql<{ compression: string }>`
        select attcompression::text as compression from pg_attribute where attrelid = 'cases'::regclass and attname = 'state'`.execute(database.db);
      // '' is the default: pglz, the only method PGlite has.
      expect(rows[0]!.compression).toBe('');
    } finally {
      await database.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
