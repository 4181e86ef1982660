/**
 * Test wiring on the real services: the run's Postgres database and BullMQ on Redis with the
 * run's prefix. Tests build their own app and close what they open.
 */
import { randomUUID } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { inject } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createBullmqJobQueue } from '../../src/platform/bullmq-job-queue.js';
import { openDatabase, type DatabaseHandle } from '../../src/platform/database.js';
import type { JobQueue } from '../../src/platform/job-queue.js';
import { createSecretBox, decodeSecretKey, type SecretBox } from '../../src/platform/secret-box.js';
import { assembleCore } from '../../src/core.js';
import path from 'node:path';

export const TEMPLATES_DIR = path.resolve(import.meta.dirname, '../../case-templates');

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

/** The tests' deployment key (32 bytes, base64). */
export const SECRET_KEY = 'dGVzc2VyYS10ZXN0LXNlY3JldC1rZXktMzItYnl0ZXM=';

export function testSecretBox(): SecretBox {
  return createSecretBox(decodeSecretKey(SECRET_KEY)!);
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: inject('databaseUrl'),
    REDIS_URL: inject('redisUrl'),
    TESSERA_REDIS_PREFIX: inject('redisPrefix'),
    TESSERA_ADMIN_KEY: ADMIN_KEY,
    TESSERA_SECRET_KEY: SECRET_KEY,
    LOG_LEVEL: 'silent',
    TESSERA_MIGRATE_ON_START: 'false',
    // Every test file shares the bootstrap admin's counter within a run; tests of the limiter
    // set their own (test/http/rate-limit.test.ts).
    TESSERA_RATE_LIMIT_PER_MINUTE: '100000',
    ...overrides,
  });
}

export const silentLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export async function openTestDatabase(): Promise<DatabaseHandle> {
  return openDatabase({ databaseUrl: inject('databaseUrl'), dataDir: '/nonexistent', poolSize: 20 });
}

/** `prefixSuffix` gives a test its own BullMQ keys (for tests that start workers or flush queues). */
export function openTestJobQueue(redisUrl = inject('redisUrl'), prefixSuffix = ''): JobQueue {
  return createBullmqJobQueue({ redisUrl, prefix: `${inject('redisPrefix')}${prefixSuffix}`, logger: silentLogger });
}

/**
 * A built app on real Postgres and Redis; `close()` closes it and everything it opened. `now` is
 * the clock of commands and time-based views (a test that moves time injects one); `config`:
 * environment overrides (e.g. a small TESSERA_RATE_LIMIT_PER_MINUTE); `logger`: to capture the
 * app's log lines.
 */
export async function startTestApp(
  options: { redisUrl?: string; prefixSuffix?: string; now?: () => Date; config?: Record<string, string>; logger?: Logger; templatesDir?: string } = {},
) {
  const config = testConfig(options.config);
  const logger = options.logger ?? silentLogger;
  const database = await openTestDatabase();
  const jobs = openTestJobQueue(options.redisUrl, options.prefixSuffix);
  const core = await assembleCore({ database, jobs, logger: silentLogger, templatesDir: options.templatesDir ?? TEMPLATES_DIR, ...(options.now ? { now: options.now } : {}) });
  const secrets = testSecretBox();
  const app = await buildApp({ config, logger, database, jobs, secrets, core });
  await app.ready();
  return {
    app,
    database,
    jobs,
    secrets,
    core,
    async close() {
      await app.close();
      await jobs.close();
      await database.close();
    },
  };
}

export function uniqueId(prefix = 'u'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
