/**
 * What an operator must see that lives in Postgres, in one statement whose cost does not grow
 * with the data: each count stops at COUNT_CAP rows (a backlog beyond it is an outage either way)
 * and reads a partial index (migration 0060); each "oldest" is the first entry of an index.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/** Counts saturate here: the gauge reads "at least this many". */
export const COUNT_CAP = 100_000;

export interface OpsSnapshot {
  deadDeliveries: number;
  pendingDeliveries: number;
  /** Age in seconds of the oldest pending delivery (0 when none). */
  oldestPendingDeliverySeconds: number;
  inboxReceived: number;
  inboxFailed: number;
  /** Age in seconds of the oldest inbox row still `received` (0 when none). */
  oldestInboxSeconds: number;
  pendingTimers: number;
  /** How far past due the most overdue pending timer is, in seconds (0 when none is overdue). */
  overdueTimerSeconds: number;
}

export async function readOpsSnapshot(db: Kysely<Database>): Promise<OpsSnapshot> {
  const cap = sql.lit(COUNT_CAP);
  const result = await sql<Record<keyof OpsSnapshot, string | number | null>>`
    select
      (select count(*) from (select 1 from webhook_deliveries where status = 'dead' limit ${cap}) x)::int as "deadDeliveries",
      (select count(*) from (select 1 from webhook_deliveries where status = 'pending' limit ${cap}) x)::int as "pendingDeliveries",
      coalesce(extract(epoch from now() - (select created_at from webhook_deliveries where status = 'pending' order by created_at limit 1)), 0)::float8 as "oldestPendingDeliverySeconds",
      (select count(*) from (select 1 from inbox where status = 'received' limit ${cap}) x)::int as "inboxReceived",
      (select count(*) from (select 1 from inbox where status = 'failed' limit ${cap}) x)::int as "inboxFailed",
      coalesce(extract(epoch from now() - (select received_at from inbox where status = 'received' order by seq limit 1)), 0)::float8 as "oldestInboxSeconds",
      (select count(*) from (select 1 from timers where status = 'pending' limit ${cap}) x)::int as "pendingTimers",
      greatest(0, coalesce(extract(epoch from now() - (select due_at from timers where status = 'pending' order by due_at limit 1)), 0))::float8 as "overdueTimerSeconds"
  `.execute(db);
  const row = result.rows[0]!;
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v ?? 0)])) as unknown as OpsSnapshot;
}
