/**
 * One database and one Redis key prefix per test run, so two runs can share a machine.
 * TEST_POSTGRES_URL / TEST_REDIS_URL point at the servers (defaults: the local ones).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { deleteRedisKeys } from '../src/platform/redis-keys.js';
import type { TestProject } from 'vitest/node';
import { Kysely, PostgresDialect } from 'kysely';
import { migrateToLatest } from '../src/persistence/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    redisUrl: string;
    redisPrefix: string;
  }
}

export default async function setup(project: TestProject) {
  const serverUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const runId = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const databaseName = `tessera_test_${runId}`;
  const redisPrefix = `tessera-test-${runId}`;

  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${databaseName}`);
  await admin.end();

  const databaseUrl = new URL(serverUrl);
  databaseUrl.pathname = `/${databaseName}`;
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: databaseUrl.toString(), max: 1 }) }) });
  await migrateToLatest(db);
  await db.destroy();

  project.provide('databaseUrl', databaseUrl.toString());
  project.provide('redisUrl', redisUrl);
  project.provide('redisPrefix', redisPrefix);

  return async () => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    await client.query(`drop database if exists ${databaseName} with (force)`);
    await client.end();
    // `<prefix>*`, not `<prefix>:*`: tests with private prefixes extend the run's prefix.
    await deleteRedisKeys(redisUrl, `${redisPrefix}*`);
  };
}
