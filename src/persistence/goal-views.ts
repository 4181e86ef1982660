/**
 * The goal views projection, write side: the rows of `goal_views` are a pure function of the
 * case aggregate (`goalViewRows`), upserted by a CTE of the command statement (`goalViewsCte`)
 * only when the projected part of the case changed, so a typical event pays nothing for it.
 * Goals are never removed from a case (they end achieved or cancelled), so an upsert is enough.
 */
import { sql, type Insertable, type RawBuilder } from 'kysely';
import type { CaseState, Goal } from '../cases/types.js';
import type { GoalViewTable } from './schema.js';

/** A row as the command statement writes it (`goalViewRows` gives times as ISO strings). */
export type GoalViewRow = Insertable<GoalViewTable>;

export function goalViewRows(c: CaseState): GoalViewRow[] {
  return c.goals.map((g) => ({
    case_id: c.id,
    goal_key: g.key,
    goal_title: g.title,
    case_title: c.title,
    template_key: c.template.key,
    template_version: c.template.version,
    queue: c.queue ?? null,
    owner_id: c.ownerId ?? null,
    priority: c.priority,
    case_status: c.status,
    status: g.status,
    sla: g.sla ?? null,
    required: g.required,
    ad_hoc: g.adHoc === true,
    deadline_at: g.deadlineAt ?? null,
    at_risk_at: g.atRiskAt ?? null,
    breached_at: g.deadlineReachedAt ?? null,
    achieved_at: g.achievedAt ?? null,
    achieved_late: g.achievedLate === true,
    opened_at: c.openedAt,
    updated_at: c.updatedAt,
  }));
}

/** What the projection reads of a goal: timer ids and the condition are left out on purpose. */
const projected = (g: Goal) =>
  [g.key, g.title, g.status, g.sla, g.required, g.adHoc, g.deadlineAt, g.atRiskAt, g.deadlineReachedAt, g.achievedAt, g.achievedLate];

/** True when a row of the projection would differ (always for a new case). */
export function goalViewsChanged(previous: CaseState | undefined, next: CaseState): boolean {
  if (previous === undefined) return true;
  if (
    previous.status !== next.status ||
    previous.queue !== next.queue ||
    previous.ownerId !== next.ownerId ||
    previous.priority !== next.priority ||
    previous.title !== next.title ||
    previous.goals.length !== next.goals.length
  ) {
    return true;
  }
  return next.goals.some((g, i) => JSON.stringify(projected(g)) !== JSON.stringify(projected(previous.goals[i]!)));
}

/**
 * The `goal_view_rows` CTE for the cases written by the statement (`written` yields their ids),
 * or undefined when no projected field changed.
 */
export function goalViewsCte(changes: { previous: CaseState | undefined; next: CaseState }[]): RawBuilder<unknown> | undefined {
  const rows = changes.filter((c) => goalViewsChanged(c.previous, c.next)).flatMap((c) => goalViewRows(c.next));
  if (rows.length === 0) return undefined;
  return sql`goal_view_rows as (
    insert into goal_views (case_id, goal_key, goal_title, case_title, template_key, template_version, queue, owner_id, priority,
      case_status, status, sla, required, ad_hoc, deadline_at, at_risk_at, breached_at, achieved_at, achieved_late, opened_at, updated_at)
    select g.case_id, g.goal_key, g.goal_title, g.case_title, g.template_key, g.template_version, g.queue, g.owner_id, g.priority,
      g.case_status, g.status, g.sla, g.required, g.ad_hoc, g.deadline_at, g.at_risk_at, g.breached_at, g.achieved_at, g.achieved_late,
      g.opened_at, g.updated_at
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      as g(case_id text, goal_key text, goal_title text, case_title text, template_key text, template_version int, queue text,
           owner_id text, priority text, case_status text, status text, sla text, required boolean, ad_hoc boolean,
           deadline_at timestamptz, at_risk_at timestamptz, breached_at timestamptz, achieved_at timestamptz,
           achieved_late boolean, opened_at timestamptz, updated_at timestamptz)
    where g.case_id in (select id from written)
    on conflict (case_id, goal_key) do update set goal_title = excluded.goal_title, case_title = excluded.case_title,
      queue = excluded.queue, owner_id = excluded.owner_id, priority = excluded.priority, case_status = excluded.case_status,
      status = excluded.status, sla = excluded.sla, required = excluded.required, ad_hoc = excluded.ad_hoc,
      deadline_at = excluded.deadline_at, at_risk_at = excluded.at_risk_at, breached_at = excluded.breached_at,
      achieved_at = excluded.achieved_at, achieved_late = excluded.achieved_late, updated_at = excluded.updated_at)`;
}
