/** The API's view of a case: snake_case, derived fields added, internals (snapshots' timers) left out. */
import type { CaseState, FragmentInstance, Goal, PostSignal, Task } from '../cases/types.js';
import { viralityOf } from '../signals/virality.js';

export interface AcceptedEvents {
  /** Union over active fragments. */
  all: string[];
  byFragment: Record<string, string[]>;
}

export function goalView(g: Goal) {
  return {
    key: g.key,
    title: g.title,
    condition: g.condition,
    required: g.required,
    status: g.status,
    deadline_at: g.deadlineAt ?? null,
    achieved_at: g.achievedAt ?? null,
    ad_hoc: g.adHoc ?? false,
    sla: g.sla ?? null,
    at_risk_at: g.atRiskAt ?? null,
    achieved_late: g.achievedLate ?? false,
  };
}

export function taskView(t: Task, caseId: string) {
  return {
    id: t.id,
    case_id: caseId,
    fragment_id: t.fragmentId,
    state: t.stateKey,
    title: t.title,
    role: t.role ?? null,
    assignee_id: t.assignment.userId ?? null,
    queue: t.assignment.queue ?? null,
    form: t.form ?? null,
    event: t.event,
    status: t.status,
    opened_at: t.openedAt,
    due_at: t.dueAt ?? null,
    claimed_by: t.claimedBy ?? null,
    closed_at: t.closedAt ?? null,
    completed_by: t.completedBy ?? null,
    output: t.output ?? null,
  };
}

function fragmentView(f: FragmentInstance, accepted: AcceptedEvents) {
  return {
    id: f.id,
    definition: f.definition,
    title: f.title,
    status: f.status,
    states: (f as FragmentInstance & { activeStates?: string[] }).activeStates ?? [],
    accepted_events: accepted.byFragment[f.id] ?? [],
    assignee_id: f.assignment?.userId ?? null,
    queue: f.assignment?.queue ?? null,
    started_at: f.startedAt,
    ended_at: f.endedAt ?? null,
  };
}

/**
 * The priority and why: `value` is the effective priority (what `?priority=` filters on);
 * `score` (0..100) is the sum of the factors' contributions and maps to `computed` under the
 * template's thresholds; `floor` is the lowest the case may have (opened with, raised by SLA or
 * reach escalations); `overridden_by` is a supervisor's override, which wins until lifted.
 */
export function priorityView(c: CaseState) {
  const info = c.priorityInfo;
  return {
    value: c.priority,
    score: info?.score ?? null,
    computed: info?.computed ?? null,
    floor: info?.floor ?? c.priority,
    factors: info?.factors ?? [],
    computed_at: info?.computedAt ?? null,
    overridden_by: info?.override
      ? { user_id: info.override.by, priority: info.override.priority, reason: info.override.reason, at: info.override.at }
      : null,
    escalations_crossed: info?.crossed ?? [],
  };
}

/** A linked post as the case shows it: latest figures, computed/provided sentiment, virality. */
export function postView(p: PostSignal) {
  const v = viralityOf(p.samples, p.postedAt);
  return {
    content_id: p.contentId,
    channel: p.channel,
    author_handle: p.authorHandle ?? null,
    reach: p.reach ?? null,
    engagements: p.engagements ?? null,
    followers: p.followers ?? null,
    sentiment: p.sentiment ? { score: p.sentiment.score, source: p.sentiment.source, model: p.sentiment.model ?? null } : null,
    engagements_per_hour: v?.perHour ?? null,
    revision: p.revision,
    first_seen_at: p.firstSeenAt,
    updated_at: p.updatedAt,
  };
}

/** Fields the full view and the list view share. */
function caseHeader(c: CaseState) {
  return {
    id: c.id,
    template: c.template,
    title: c.title,
    status: c.status,
    priority: priorityView(c),
    owner_id: c.ownerId ?? null,
    queue: c.queue ?? null,
    customer: c.customer ? customerRefView(c.customer) : null,
    goals: c.goals.map(goalView),
    version: c.version,
    opened_at: c.openedAt,
    updated_at: c.updatedAt,
  };
}

export function caseView(c: CaseState, accepted: AcceptedEvents) {
  return {
    ...caseHeader(c),
    external_refs: c.externalRefs,
    case_file: c.caseFile,
    milestones: c.milestones,
    posts: (c.posts ?? []).map(postView),
    fragments: c.fragments.map((f) => fragmentView(f, accepted)),
    tasks: c.tasks.map((t) => taskView(t, c.id)),
    accepted_events: accepted.all,
    closed_at: c.closedAt ?? null,
    close_reason: c.closeReason ?? null,
    held_at: c.heldAt ?? null,
    hold_reason: c.holdReason ?? null,
  };
}

/** A short form for lists. */
export function caseSummaryView(c: CaseState) {
  return { ...caseHeader(c), open_tasks: c.tasks.length };
}

/** The case's customer reference on the wire (snake_case). */
function customerRefView(ref: NonNullable<CaseState['customer']>) {
  const { externalIds, ...rest } = ref;
  return { ...rest, ...(externalIds ? { external_ids: externalIds } : {}) };
}
