/**
 * Opens what a Tessera process needs — database, migrations, job queue — from the config,
 * and closes it in the reverse order.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { migrateToLatest } from '../persistence/migrate.js';
import { createBullmqJobQueue } from './bullmq-job-queue.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import { openDatabase, type DatabaseHandle } from './database.js';
import { createInProcessJobQueue } from './in-process-job-queue.js';
import type { JobQueue } from './job-queue.js';
import { openSecretBox, type SecretBox } from './secret-box.js';

export interface Platform {
  database: DatabaseHandle;
  jobs: JobQueue;
  /** Seals and opens stored webhook secrets. */
  secrets: SecretBox;
  /** Embedded mode: this process's lock on the data directory (the server publishes its URL in it). */
  dataDirLock?: DataDirLock | undefined;
  close(): Promise<void>;
}

/**
 * Throws DataDirInUseError (embedded mode) before it reads a key, opens the database or
 * migrates, when another process holds the data directory.
 */
export async function openPlatform(config: Config, logger: Logger): Promise<Platform> {
  const embedded = config.databaseUrl === undefined;
  // First of all: a second process on one data directory is refused before it touches anything.
  const dataDirLock = embedded ? await lockDataDir(config.dataDir, `tessera ${config.role === 'all' ? 'server' : config.role}`) : undefined;
  let database: DatabaseHandle | undefined;
  let secrets: SecretBox;
  try {
    // Before the database opens: a missing key is a configuration error, not a half-started process.
    secrets = await openSecretBox({ secretKey: config.secretKey, embedded, dataDir: config.dataDir });
    database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, idleTimeoutMs: config.dbIdleTimeoutMs, preparedStatements: config.dbPreparedStatements, ...(dataDirLock ? { dataDirLock } : {}), logger });
    if (config.migrateOnStart) {
      const results = await migrateToLatest(database.db);
      for (const r of results) logger.info({ migration: r.migrationName }, 'migration applied');
    }
  } catch (err) {
    await database?.close();
    await dataDirLock?.release();
    throw err;
  }
  const jobs = config.redisUrl
    ? createBullmqJobQueue({ redisUrl: config.redisUrl, prefix: config.redisPrefix, logger })
    : createInProcessJobQueue({ logger });
  logger.info(
    { database: database.kind, jobs: jobs.kind, dataDir: database.kind === 'embedded' ? config.dataDir : undefined },
    'platform open',
  );
  return {
    database,
    jobs,
    secrets,
    dataDirLock,
    async close() {
      await jobs.close();
      await database.close();
      await dataDirLock?.release();
    },
  };
}
