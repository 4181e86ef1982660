/**
 * The database connection: a pg pool against DATABASE_URL, or embedded PGlite stored under
 * TESSERA_DATA_DIR. Postgres is the source of truth in both modes.
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import { PREPARED_MARK } from '../persistence/prepared-statement.js';
import type { Database } from '../persistence/schema.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import { pipelineTransactions } from './pipelined-transactions.js';
import { PGliteDialect } from './pglite-dialect.js';

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly kind: 'postgres' | 'embedded';
  /** Resolves when a trivial query answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Connections of the pool: open, idle, and callers waiting for one (Postgres mode only; for metrics). */
  poolStats?(): { total: number; idle: number; waiting: number };
}

export interface DatabaseOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  poolSize?: number;
  /**
   * How long an idle pooled connection lives (ms; default 10 minutes; 0: until the pool closes).
   * pg's own default, 10 s, closes connections between the peaks of a steady load and opens them
   * again on the next peak: each reopened session pays connect + the backend's cold catalog caches
   * (the first write statement on a fresh backend plans against empty relcache), a periodic stall
   * that showed as p99 ≈ 40 ms at every rate (bench/load.ts, README "Performance").
   */
  idleTimeoutMs?: number;
  /**
   * Embedded only: the data directory's lock, already taken by the caller (who releases it).
   * Without it the embedded database takes the lock itself and drops it on close, so no
   * process ever opens the embedded files without holding it (see data-dir-lock.ts).
   */
  dataDirLock?: DataDirLock;
  /** Names the holder in the lock when this call takes it (default `tessera`). */
  command?: string;
  /** Where lost connections are reported (a restart, a failover, a killed backend). */
  logger?: Logger;
  /**
   * Postgres only (default true): statements marked with PREPARED
   * (persistence/prepared-statement.ts) run as named prepared statements, parsed and planned once
   * per connection. Off for a pooler that cannot follow them across server connections
   * (PgBouncer before 1.21 in transaction mode).
   */
  preparedStatements?: boolean;
}

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) {
    const pool = createPool(options.databaseUrl, options.poolSize ?? 10, options.logger, options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, options.preparedStatements ?? true);
    const opened = handle(new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), 'postgres');
    return { ...opened, poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }) };
  }
  const ownLock = options.dataDirLock === undefined ? await lockDataDir(options.dataDir, options.command ?? 'tessera') : undefined;
  try {
    const db = new Kysely<Database>({ dialect: new PGliteDialect(await openEmbedded(options.dataDir)) });
    return handle(db, 'embedded', ownLock);
  } catch (err) {
    await ownLock?.release();
    throw err;
  }
}

function handle(db: Kysely<Database>, kind: DatabaseHandle['kind'], ownLock?: DataDirLock): DatabaseHandle {
  let closed = false;
  return {
    db,
    kind,
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await db.destroy();
      } finally {
        await ownLock?.release();
      }
    },
  };
}

/**
 * A pool that survives the database going away: a lost connection is logged and dropped, the
 * query on it fails to its caller (503 at the HTTP edge, a retry for a job), and the next
 * checkout opens a fresh connection — nothing is cached, so readiness recovers by itself.
 */
const DEFAULT_IDLE_TIMEOUT_MS = 600_000;

function createPool(connectionString: string, max: number, logger: Logger | undefined, idleTimeoutMillis: number, preparedStatements: boolean): pg.Pool {
  const named = statementNamer(preparedStatements);
  // TCP keepalive: a server that vanished without closing the socket (a failover, a dropped
  // network) is noticed by the kernel within minutes instead of leaving a session waiting forever.
  const pool = new pg.Pool({ connectionString, max, idleTimeoutMillis, connectionTimeoutMillis: 5_000, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
  // A client checked out of the pool (a transaction between two statements) emits 'error' on
  // itself, not on the pool, when its backend dies (`terminating connection due to administrator
  // command`, `Connection terminated unexpectedly`); without a listener that is an uncaught
  // exception that takes the process down. Its next statement fails and the pool discards it.
  pool.on('connect', (client) => {
    pipelineTransactions(client, named);
    client.on('error', (err) =>
      logger?.warn({ error: err.message, code: (err as { code?: unknown }).code }, 'database connection lost; the pool reconnects'),
    );
  });
  // An idle client losing its connection also emits 'error' on the pool (and leaves it); the
  // client's own listener above has logged it already.
  pool.on('error', () => {});
  return pool;
}

/**
 * Names a statement whose text starts with {@link PREPARED_MARK}: `pg` parses it on the first
 * use per connection and only binds it afterwards. The name is a digest of the text, so it is the
 * same in every process and never names two texts. Undefined: the statement runs unnamed.
 */
function statementNamer(preparedStatements: boolean): (text: string) => string | undefined {
  const names = new Map<string, string>();
  return (text) => {
    if (!preparedStatements || !text.startsWith(PREPARED_MARK)) return undefined;
    let name = names.get(text);
    if (name === undefined) {
      name = `tessera_${createHash('sha256').update(text).digest('hex').slice(0, 32)}`;
      names.set(text, name);
    }
    return name;
  };
}

async function openEmbedded(dataDir: string) {
  const dir = path.join(dataDir, 'pgdata');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { PGlite } = await import('@electric-sql/pglite');
  return PGlite.create(dir);
}
