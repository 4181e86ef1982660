/**
 * The plan of a case at one version: its fragments and their states, its goals with their SLA
 * state, its open tasks and its milestones — what plan-as-of (`GET /v1/cases/:id/plan`) and every
 * dry run answer, in the API's snake_case. Pure: the same case gives the same plan, whether it was
 * loaded, reconstructed from the journal or computed by a dry run. Personal data (the case file,
 * the customer's name and handles, content) is left out: a plan is about the work.
 */
import type { CaseState } from './types.js';

export interface PlanFragment {
  id: string;
  /** `key@version` of the definition. */
  definition: string;
  title: string;
  status: 'active' | 'done' | 'cancelled';
  /** Active atomic states (dotted paths); the last ones reached when the fragment ended. */
  states: string[];
  assignee_id: string | null;
  queue: string | null;
  started_at: string;
  ended_at: string | null;
}

export interface PlanGoal {
  key: string;
  title: string;
  required: boolean;
  status: 'open' | 'achieved' | 'cancelled';
  deadline_at: string | null;
  /** on_track | at_risk | breached; null without a deadline. */
  sla: 'on_track' | 'at_risk' | 'breached' | null;
  achieved_at: string | null;
  achieved_late: boolean;
  ad_hoc: boolean;
}

export interface PlanTask {
  id: string;
  fragment_id: string;
  state: string;
  title: string;
  status: 'open' | 'completed' | 'cancelled';
  assignee_id: string | null;
  queue: string | null;
  opened_at: string;
  due_at: string | null;
  effort: number;
}

export interface PlanView {
  case_id: string;
  /** The case version this plan is (number of commands applied). */
  version: number;
  /** When that version was made (the command's time). */
  at: string;
  template: { key: string; version: number };
  status: CaseState['status'];
  priority: CaseState['priority'];
  owner_id: string | null;
  queue: string | null;
  fragments: PlanFragment[];
  goals: PlanGoal[];
  /** Open tasks at that version (closed ones left the aggregate). */
  tasks: PlanTask[];
  /** Milestone key -> time reached. */
  milestones: Record<string, string>;
}

/** The plan of `c` as it stands (see the file comment). */
export function planView(c: CaseState): PlanView {
  return {
    case_id: c.id,
    version: c.version,
    at: c.updatedAt,
    template: { key: c.template.key, version: c.template.version },
    status: c.status,
    priority: c.priority,
    owner_id: c.ownerId ?? null,
    queue: c.queue ?? null,
    fragments: c.fragments.map((f) => ({
      id: f.id,
      definition: f.definition,
      title: f.title,
      status: f.status,
      states: f.activeStates ?? [],
      assignee_id: f.assignment?.userId ?? null,
      queue: f.assignment?.queue ?? null,
      started_at: f.startedAt,
      ended_at: f.endedAt ?? null,
    })),
    goals: c.goals.map((g) => ({
      key: g.key,
      title: g.title,
      required: g.required,
      status: g.status,
      deadline_at: g.deadlineAt ?? null,
      sla: g.sla ?? null,
      achieved_at: g.achievedAt ?? null,
      achieved_late: g.achievedLate ?? false,
      ad_hoc: g.adHoc ?? false,
    })),
    tasks: c.tasks
      .filter((t) => t.status === 'open')
      .map((t) => ({
        id: t.id,
        fragment_id: t.fragmentId,
        state: t.stateKey,
        title: t.title,
        status: t.status,
        assignee_id: t.assignment.userId ?? null,
        queue: t.assignment.queue ?? null,
        opened_at: t.openedAt,
        due_at: t.dueAt ?? null,
        effort: t.effort ?? 1,
      })),
    milestones: { ...c.milestones },
  };
}
