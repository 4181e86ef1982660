/**
 * The goal views, read side: supervisor lists of open goals by deadline and the SLA attainment
 * report, over the `goal_views` projection (migrations/0003_goal_views.ts chose the indexes).
 *
 * The fixed parts of each WHERE are SQL literals on purpose: Postgres uses a partial index only
 * when it can prove the query implies the index predicate, and it cannot prove that from a
 * bound parameter (`status = $1`).
 */
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Page } from './case-queries.js';
import type { Database, GoalViewTable } from './schema.js';
import { splitReportPeriod } from './goal-attainment.js';

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Keyset position in the (deadline_at, case_id, goal_key) order. */
export type GoalCursor = { d: string; c: string; g: string };
export const isGoalCursor = (v: unknown): v is GoalCursor =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as GoalCursor).d === 'string' &&
  typeof (v as GoalCursor).c === 'string' &&
  typeof (v as GoalCursor).g === 'string' &&
  !Number.isNaN(Date.parse((v as GoalCursor).d));

export interface GoalFilters {
  /** SLA states to include; all when absent. */
  sla?: readonly string[];
  /** Case statuses (open, on_hold); both when absent. */
  caseStatus?: readonly string[];
  template?: string;
  queue?: string;
  ownerId?: string;
  /** Deadline window, inclusive at both ends. */
  deadlineFrom?: Date;
  deadlineTo?: Date;
}

export interface GoalItem {
  caseId: string;
  caseTitle: string;
  template: { key: string; version: number };
  queue: string | null;
  ownerId: string | null;
  priority: string;
  caseStatus: string;
  goalKey: string;
  goalTitle: string;
  required: boolean;
  adHoc: boolean;
  status: string;
  sla: string | null;
  deadlineAt: string;
  atRiskAt: string | null;
  breachedAt: string | null;
  openedAt: string;
  updatedAt: string;
}

const iso = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());

/**
 * Open goals with a deadline on open or held cases, soonest deadline first (overdue ones lead),
 * keyset-paged by (deadline_at, case_id, goal_key).
 *
 * Several SLA states (the console's `sla=at_risk&sla=breached`): one branch per state, each the
 * first limit + 1 rows of its range of the partial index on (sla, deadline_at, ...), merged.
 * One `sla in (...)` would read every goal of those states to sort them (100,000 entries at a
 * million goal rows), since no index orders the union of two ranges; the first rows of a merge
 * are the first rows of the merged ranges' own first rows, so the page is the same.
 */
export async function listOpenGoals(db: Kysely<Database>, filters: GoalFilters, cursor: GoalCursor | undefined, limit: number): Promise<Page<GoalItem>> {
  const branch = (sla: readonly string[] | undefined) => {
    let q = db
      .selectFrom('goal_views')
      .selectAll()
      .where(sql<boolean>`status = 'open' and case_status in ('open', 'on_hold') and deadline_at is not null`)
      .orderBy('deadline_at')
      .orderBy('case_id')
      .orderBy('goal_key')
      .limit(limit + 1);
    if (sla && sla.length > 0) q = q.where('sla', 'in', [...sla]);
    if (filters.caseStatus && filters.caseStatus.length > 0) q = q.where('case_status', 'in', [...filters.caseStatus]);
    if (filters.template) q = q.where('template_key', '=', filters.template);
    if (filters.queue) q = q.where('queue', '=', filters.queue);
    if (filters.ownerId) q = q.where('owner_id', '=', filters.ownerId);
    if (filters.deadlineFrom) q = q.where('deadline_at', '>=', filters.deadlineFrom);
    if (filters.deadlineTo) q = q.where('deadline_at', '<=', filters.deadlineTo);
    if (cursor) q = q.where(sql<boolean>`(deadline_at, case_id, goal_key) > (${new Date(cursor.d)}, ${cursor.c}, ${cursor.g})`);
    return q;
  };
  const states = [...new Set(filters.sla ?? [])];
  const rows = states.length > 1
    ? await db
        .selectFrom(sql<Selectable<GoalViewTable>>`(${sql.join(states.map((state) => sql`(${branch([state])})`), sql` union all `)})`.as('g'))
        .selectAll()
        .orderBy('deadline_at')
        .orderBy('case_id')
        .orderBy('goal_key')
        .limit(limit + 1)
        .execute()
    : await branch(states).execute();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({
      caseId: r.case_id,
      caseTitle: r.case_title,
      template: { key: r.template_key, version: r.template_version },
      queue: r.queue,
      ownerId: r.owner_id,
      priority: r.priority,
      caseStatus: r.case_status,
      goalKey: r.goal_key,
      goalTitle: r.goal_title,
      required: r.required,
      adHoc: r.ad_hoc,
      status: r.status,
      sla: r.sla,
      deadlineAt: iso(r.deadline_at)!,
      atRiskAt: iso(r.at_risk_at),
      breachedAt: iso(r.breached_at),
      openedAt: iso(r.opened_at)!,
      updatedAt: iso(r.updated_at)!,
    })),
    nextCursor: rows.length > limit && last ? encode({ d: iso(last.deadline_at), c: last.case_id, g: last.goal_key }) : null,
  };
}

export interface AttainmentCounts {
  /** Goals whose SLA outcome fell in the period: on time + late + breached open. */
  due: number;
  achievedOnTime: number;
  achievedLate: number;
  /** Still open, deadline passed (by `now`). */
  breachedOpen: number;
  /** Still open, deadline in the period but after `now`: no outcome yet, not in `due`. */
  pending: number;
  /** achievedOnTime / due; null when nothing was due. */
  attainment: number | null;
}

export interface AttainmentGroup extends AttainmentCounts {
  key: string | null;
}

export interface AttainmentQuery {
  from: Date;
  to: Date;
  now: Date;
  groupBy: 'template' | 'queue';
  template?: string;
  queue?: string;
}

function counts(r: { on_time: number; late: number; breached_open: number; pending: number }): AttainmentCounts {
  const due = r.on_time + r.late + r.breached_open;
  return {
    due,
    achievedOnTime: r.on_time,
    achievedLate: r.late,
    breachedOpen: r.breached_open,
    pending: r.pending,
    attainment: due === 0 ? null : Math.round((r.on_time / due) * 10_000) / 10_000,
  };
}

/**
 * SLA attainment per template or queue over [from, to). A goal with a deadline counts once, in
 * the period of its outcome: when it was achieved (on time or late), or — still open — when its
 * deadline passes. Cancelled goals and goals of cancelled cases do not count; goals of closed
 * cases do (closing a case does not meet its goals). Queue is the case's current queue.
 */
export async function slaAttainment(db: Kysely<Database>, query: AttainmentQuery): Promise<{ groups: AttainmentGroup[]; total: AttainmentCounts }> {
  const key = query.groupBy === 'template' ? sql.ref('template_key') : sql.ref('queue');
  const filters = sql`${query.template ? sql`and template_key = ${query.template}` : sql``} ${query.queue ? sql`and queue = ${query.queue}` : sql``}`;
  // Whole past days from the daily rollup (migration 0070) and its not yet folded deltas; the
  // partial days at the edges and today onwards from goal_views (persistence/goal-attainment.ts).
  const split = splitReportPeriod(query.from, query.to, query.now);
  const parts = split.live.map(
    (range) => sql`
    select ${key} as key,
      count(*) filter (where status = 'achieved' and not achieved_late)::int as on_time,
      count(*) filter (where status = 'achieved' and achieved_late)::int as late,
      count(*) filter (where status = 'open' and deadline_at <= ${query.now})::int as breached_open,
      count(*) filter (where status = 'open' and deadline_at > ${query.now})::int as pending
    from goal_views
    where deadline_at is not null and status <> 'cancelled'
      and coalesce(achieved_at, deadline_at) >= ${range.from} and coalesce(achieved_at, deadline_at) < ${range.to}
      and case_status <> 'cancelled' ${filters}
    group by 1`,
  );
  if (split.rolled) {
    for (const table of ['goal_attainment_days', 'goal_attainment_deltas']) {
      parts.push(sql`
    select ${key} as key, sum(on_time)::int as on_time, sum(late)::int as late, sum(open)::int as breached_open, 0 as pending
    from ${sql.table(table)}
    where day >= ${split.rolled.from} and day < ${split.rolled.to} ${filters}
    group by 1`);
    }
  }
  const rows = await sql<{ key: string | null; on_time: number; late: number; breached_open: number; pending: number }>`
    select key, sum(on_time)::int as on_time, sum(late)::int as late, sum(breached_open)::int as breached_open, sum(pending)::int as pending
    from (${sql.join(parts, sql` union all `)}) parts
    group by key
    having sum(on_time) + sum(late) + sum(breached_open) + sum(pending) > 0
    order by key nulls last`.execute(db);
  const sum = { on_time: 0, late: 0, breached_open: 0, pending: 0 };
  for (const r of rows.rows) {
    sum.on_time += r.on_time;
    sum.late += r.late;
    sum.breached_open += r.breached_open;
    sum.pending += r.pending;
  }
  return { groups: rows.rows.map((r) => ({ key: r.key, ...counts(r) })), total: counts(sum) };
}
