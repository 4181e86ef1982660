/**
 * The database connection: a pg pool against DATABASE_URL, or embedded PGlite stored under
 * TESSERA_DATA_DIR. Postgres is the source of truth in both modes.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from '../persistence/schema.js';
import { PGliteDialect } from './pglite-dialect.js';

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly kind: 'postgres' | 'embedded';
  /** Resolves when a trivial query answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  poolSize?: number;
}

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  const db = options.databaseUrl
    ? new Kysely<Database>({ dialect: new PostgresDialect({ pool: createPool(options.databaseUrl, options.poolSize ?? 10) }) })
    : new Kysely<Database>({ dialect: new PGliteDialect(await openEmbedded(options.dataDir)) });
  let closed = false;
  return {
    db,
    kind: options.databaseUrl ? 'postgres' : 'embedded',
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}

function createPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis: 5_000 });
  // An idle client losing its connection emits 'error' on the pool; without a listener that
  // is an uncaught exception. The next query reports the failure to its caller instead.
  pool.on('error', () => {});
  return pool;
}

async function openEmbedded(dataDir: string) {
  const dir = path.join(dataDir, 'pgdata');
  await mkdir(dir, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  return PGlite.create(dir);
}
