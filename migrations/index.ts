/**
 * Every migration, imported statically: Kysely's FileMigrationProvider imports files at run
 * time and fails on `.ts` under Node 20 and vitest. Add new migrations here, in order.
 */
import type { Migration } from 'kysely';
import * as m0001 from './0001_api_keys.js';
import * as m0002 from './0002_cases.js';
import * as m0006 from './0006_api_key_teams.js';

export const migrations: Record<string, Migration> = {
  '0001_api_keys': m0001,
  '0002_cases': m0002,
  '0006_api_key_teams': m0006,
};
