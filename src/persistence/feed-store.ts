/**
 * Reads of the change feed: journal rows in commit-safe order (migration 0030 explains the
 * order), the current head of cases (with what the access rules read of them), and the SLA tile
 * counts. The live hub (src/live/) is their only caller.
 */
import { sql, type Kysely } from 'kysely';
import type { FeedPosition } from '../live/feed-position.js';
import type { Database } from './schema.js';
import { SLA_COUNT_ROWS } from './sla-tile-queries.js';

export interface FeedRow {
  position: FeedPosition;
  caseId: string;
  version: number;
  idx: number;
  type: string;
  actor: { id: string; role: string };
  reason: string | null;
  data: unknown;
  at: string;
}

/** What the object-level access rules read of a case (http/access.ts), projected in SQL. */
export interface CaseAccessRow {
  ownerId: string | null;
  queue: string | null;
  tasks: { userId: string | null; queue: string | null; claimedBy: string | null }[];
  fragmentUsers: string[];
}

export interface CaseHeadRow {
  caseId: string;
  version: number;
  title: string;
  status: string;
  priority: string;
  ownerId: string | null;
  queue: string | null;
  customerId: string | null;
  templateKey: string;
  updatedAt: string;
  access: CaseAccessRow;
}

export interface SlaCounts {
  on_track: number;
  at_risk: number;
  breached: number;
}

const iso = (value: Date | string) => new Date(value).toISOString();

/** A journal row as both feed reads select it (`tx` as text: xid8 has no JavaScript type). */
interface JournalFeedRecord {
  tx: string;
  seq: string | number;
  case_id: string;
  version: number;
  idx: number;
  type: string;
  actor_id: string;
  actor_role: string;
  reason: string | null;
  data: unknown;
  at: Date | string;
}

function feedRowOf(r: JournalFeedRecord): FeedRow {
  return {
    position: { tx: BigInt(r.tx), seq: BigInt(r.seq) },
    caseId: r.case_id,
    version: r.version,
    idx: r.idx,
    type: r.type,
    actor: { id: r.actor_id, role: r.actor_role },
    reason: r.reason,
    data: r.data,
    at: iso(r.at),
  };
}

/**
 * Journal rows after `after`, in feed order, at most `limit`, and only rows of transactions
 * older than every transaction still running: a row never appears later below the last one
 * returned. A long-running writing transaction holds later rows back until it ends.
 */
export async function readFeedAfter(db: Kysely<Database>, after: FeedPosition, limit: number): Promise<FeedRow[]> {
  const result = await sql<JournalFeedRecord>`
    select tx::text as tx, seq, case_id, version, idx, type, actor_id, actor_role, reason, data, at
    from journal
    where (tx, seq) > (${after.tx.toString()}::xid8, ${after.seq.toString()}::bigint)
      and tx < pg_snapshot_xmin(pg_current_snapshot())
    order by tx, seq
    limit ${limit}`.execute(db);
  return result.rows.map(feedRowOf);
}

/** The last row every reader may have read by now (the start when the journal is empty). */
export async function readFeedHead(db: Kysely<Database>): Promise<FeedPosition> {
  const result = await sql<{ tx: string; seq: string | number }>`
    select tx::text as tx, seq from journal
    where tx < pg_snapshot_xmin(pg_current_snapshot())
    order by tx desc, seq desc limit 1`.execute(db);
  const row = result.rows[0];
  return row ? { tx: BigInt(row.tx), seq: BigInt(row.seq) } : { tx: 0n, seq: 0n };
}

/** When the journal row at `position` was written, or undefined when there is no such row. */
export async function feedRowTime(db: Kysely<Database>, position: FeedPosition): Promise<Date | undefined> {
  const result = await sql<{ at: Date | string }>`
    select at from journal where tx = ${position.tx.toString()}::xid8 and seq = ${position.seq.toString()}::bigint`.execute(db);
  const row = result.rows[0];
  return row ? new Date(row.at) : undefined;
}

/** The current head of each case that exists, with its access projection. */
export async function readCaseHeads(db: Kysely<Database>, caseIds: readonly string[]): Promise<Map<string, CaseHeadRow>> {
  const heads = new Map<string, CaseHeadRow>();
  if (caseIds.length === 0) return heads;
  const result = await sql<{
    id: string;
    version: number;
    title: string;
    status: string;
    priority: string;
    owner_id: string | null;
    queue: string | null;
    customer_id: string | null;
    template_key: string;
    updated_at: Date | string;
    tasks: { u: string | null; q: string | null; c: string | null }[];
    fragment_users: string[];
  }>`
    select c.id, c.version, c.title, c.status, c.priority, c.owner_id, c.queue, c.customer_id, c.template_key, c.updated_at,
      coalesce((select jsonb_agg(jsonb_build_object('u', t->'assignment'->>'userId', 'q', t->'assignment'->>'queue', 'c', t->>'claimedBy'))
                from jsonb_array_elements(c.state->'tasks') t), '[]'::jsonb) as tasks,
      coalesce((select jsonb_agg(f->'assignment'->>'userId') from jsonb_array_elements(c.state->'fragments') f
                where f->'assignment'->>'userId' is not null), '[]'::jsonb) as fragment_users
    from cases c
    where c.id = any(${[...caseIds]}::text[])`.execute(db);
  for (const r of result.rows) {
    heads.set(r.id, {
      caseId: r.id,
      version: r.version,
      title: r.title,
      status: r.status,
      priority: r.priority,
      ownerId: r.owner_id,
      queue: r.queue,
      customerId: r.customer_id,
      templateKey: r.template_key,
      updatedAt: iso(r.updated_at),
      access: {
        ownerId: r.owner_id,
        queue: r.queue,
        tasks: r.tasks.map((t) => ({ userId: t.u, queue: t.q, claimedBy: t.c })),
        fragmentUsers: r.fragment_users,
      },
    });
  }
  return heads;
}

/**
 * Open goals with a deadline on open or held cases by SLA state, in all and per queue ('' for
 * none): the set GET /v1/goals lists.
 */
export async function readSlaTiles(db: Kysely<Database>): Promise<{ total: SlaCounts; byQueue: Record<string, SlaCounts> }> {
  // The SLA count rollup (migration 0071), not a count of goal_views: read every second.
  const result = await sql<{ queue: string | null; sla: string | null; n: string | number }>`
    select queue, sla, sum(n) as n from ${SLA_COUNT_ROWS} x
    group by queue, sla
    having sum(n) <> 0`.execute(db);
  const total: SlaCounts = { on_track: 0, at_risk: 0, breached: 0 };
  const byQueue: Record<string, SlaCounts> = {};
  for (const r of result.rows) {
    const key = r.sla === 'at_risk' || r.sla === 'breached' ? r.sla : 'on_track';
    const n = Number(r.n);
    total[key] += n;
    const q = (byQueue[r.queue ?? ''] ??= { on_track: 0, at_risk: 0, breached: 0 });
    q[key] += n;
  }
  return { total, byQueue };
}

/** A case's journal rows after `version`, in order (a subscriber that holds `version` gets the rest). */
export async function readCaseJournalSince(db: Kysely<Database>, caseId: string, version: number, limit: number): Promise<FeedRow[]> {
  const result = await sql<JournalFeedRecord>`
    select tx::text as tx, seq, case_id, version, idx, type, actor_id, actor_role, reason, data, at
    from journal where case_id = ${caseId} and version > ${version}
    order by version, idx limit ${limit}`.execute(db);
  return result.rows.map(feedRowOf);
}
