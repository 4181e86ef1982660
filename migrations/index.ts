/**
 * Every migration, imported statically: Kysely's FileMigrationProvider imports files at run
 * time and fails on `.ts` under Node 20 and vitest. Add new migrations here, in order.
 */
import type { Migration } from 'kysely';
import * as m0001 from './0001_api_keys.js';
import * as m0002 from './0002_cases.js';
import * as m0005 from './0005_inbound_webhooks.js';

export const migrations: Record<string, Migration> = {
  '0001_api_keys': m0001,
  '0002_cases': m0002,
  '0005_inbound_webhooks': m0005,
};
