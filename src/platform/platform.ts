/**
 * Opens what a Tessera process needs — database, migrations, job queue — from the config,
 * and closes it in the reverse order.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { migrateToLatest } from '../persistence/migrate.js';
import { createBullmqJobQueue } from './bullmq-job-queue.js';
import { openDatabase, type DatabaseHandle } from './database.js';
import { createInProcessJobQueue } from './in-process-job-queue.js';
import type { JobQueue } from './job-queue.js';
import { openSecretBox, type SecretBox } from './secret-box.js';

export interface Platform {
  database: DatabaseHandle;
  jobs: JobQueue;
  /** Seals and opens stored webhook secrets. */
  secrets: SecretBox;
  close(): Promise<void>;
}

export async function openPlatform(config: Config, logger: Logger): Promise<Platform> {
  // Before anything opens: a missing key is a configuration error, not a half-started process.
  const secrets = await openSecretBox({ secretKey: config.secretKey, embedded: config.databaseUrl === undefined, dataDir: config.dataDir });
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, logger });
  try {
    if (config.migrateOnStart) {
      const results = await migrateToLatest(database.db);
      for (const r of results) logger.info({ migration: r.migrationName }, 'migration applied');
    }
  } catch (err) {
    await database.close();
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
    async close() {
      await jobs.close();
      await database.close();
    },
  };
}
