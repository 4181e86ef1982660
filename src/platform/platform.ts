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

export interface Platform {
  database: DatabaseHandle;
  jobs: JobQueue;
  close(): Promise<void>;
}

export async function openPlatform(config: Config, logger: Logger): Promise<Platform> {
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
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
    async close() {
      await jobs.close();
      await database.close();
    },
  };
}
