/**
 * Reach and virality alerts: the recent `case.escalated` journal entries a post signal caused
 * (reach-escalation.ts journals one per threshold per case), with the case's current head.
 * Served by the partial index journal_escalations_at (migration 0040).
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface ReachAlert {
  case_id: string;
  case_title: string;
  queue: string | null;
  priority: string;
  case_status: string;
  metric: string;
  value: number;
  limit: number;
  threshold: string;
  content_id: string | null;
  at: string;
}

export async function readReachAlerts(db: Kysely<Database>, q: { since: Date; limit: number; queue?: string }): Promise<ReachAlert[]> {
  const rows = await sql<{ case_id: string; data: Record<string, unknown>; at: Date | string; title: string; queue: string | null; priority: string; status: string }>`
    select j.case_id, j.data, j.at, c.title, c.queue, c.priority, c.status
    from journal j join cases c on c.id = j.case_id
    where j.type = 'case.escalated' and j.at >= ${q.since}
      and j.data->>'metric' in ('reach', 'virality')
      ${q.queue ? sql`and c.queue = ${q.queue}` : sql``}
    order by j.at desc, j.case_id
    limit ${q.limit}`.execute(db);
  return rows.rows.map((r) => ({
    case_id: r.case_id,
    case_title: r.title,
    queue: r.queue,
    priority: r.priority,
    case_status: r.status,
    metric: String(r.data.metric),
    value: Number(r.data.value),
    limit: Number(r.data.limit),
    threshold: String(r.data.threshold),
    content_id: typeof r.data.contentId === 'string' ? r.data.contentId : null,
    at: new Date(r.at).toISOString(),
  }));
}
