/**
 * Every migration, imported statically: Kysely's FileMigrationProvider imports files at run
 * time and fails on `.ts` under Node 20 and vitest. Add new migrations here, in order.
 */
import type { Migration } from 'kysely';
import * as m0001 from './0001_api_keys.js';
import * as m0002 from './0002_cases.js';
import * as m0003 from './0003_goal_views.js';
import * as m0004 from './0004_outbound_webhooks.js';
import * as m0005 from './0005_inbound_webhooks.js';
import * as m0006 from './0006_api_key_teams.js';
import * as m0007 from './0007_case_write_path.js';
import * as m0008 from './0008_journal_append_only.js';
import * as m0009 from './0009_idempotent_writes.js';
import * as m0010 from './0010_customers.js';
import * as m0011 from './0011_customer_value_quantiles.js';
import * as m0012 from './0012_content_revisions.js';
import * as m0016 from './0016_customer_timers.js';
import * as m0017 from './0017_population_latency.js';
import * as m0020 from './0020_users.js';
import * as m0021 from './0021_user_keys.js';
import * as m0025 from './0025_task_routing.js';
import * as m0030 from './0030_change_feed.js';
import * as m0040 from './0040_journal_escalations.js';
import * as m0070 from './0070_goal_attainment_days.js';
import * as m0071 from './0071_goal_sla_counts.js';
import * as m0045 from './0045_journal_commands.js';
import * as m0050 from './0050_learning.js';
import * as m0051 from './0051_learning_freshness.js';
import * as m0060 from './0060_ops_indexes.js';
import * as m0061 from './0061_erasures.js';
import * as m0062 from './0062_case_state_compression.js';
import * as m0072 from './0072_case_write_check.js';

export const migrations: Record<string, Migration> = {
  '0001_api_keys': m0001,
  '0002_cases': m0002,
  '0003_goal_views': m0003,
  '0004_outbound_webhooks': m0004,
  '0005_inbound_webhooks': m0005,
  '0006_api_key_teams': m0006,
  '0007_case_write_path': m0007,
  '0008_journal_append_only': m0008,
  '0009_idempotent_writes': m0009,
  '0010_customers': m0010,
  '0011_customer_value_quantiles': m0011,
  '0012_content_revisions': m0012,
  '0016_customer_timers': m0016,
  '0017_population_latency': m0017,
  '0020_users': m0020,
  '0021_user_keys': m0021,
  '0025_task_routing': m0025,
  '0030_change_feed': m0030,
  '0040_journal_escalations': m0040,
  '0070_goal_attainment_days': m0070,
  '0071_goal_sla_counts': m0071,
  '0045_journal_commands': m0045,
  '0050_learning': m0050,
  '0051_learning_freshness': m0051,
  '0060_ops_indexes': m0060,
  '0061_erasures': m0061,
  '0062_case_state_compression': m0062,
  '0072_case_write_check': m0072,
};
