/**
 * Case templates (case-templates/*.yaml): what a kind of case must achieve, not how.
 * Versions are immutable; the stored copy of a version is what running cases use.
 */
import type { Priority } from '../cases/types.js';
import type { FragmentRef } from '../fragments/types.js';

export interface GoalSpec {
  key: string;
  title: string;
  /** CEL over { caseFile, milestones, fragments, case } that makes the goal achieved. */
  condition: string;
  required: boolean;
  /** Deadline as an ISO 8601 duration from case open (`PT1H`, `P2D`), if any. */
  deadline?: string;
}

export interface MilestoneSpec {
  key: string;
  title: string;
}

export interface CaseTemplate {
  key: string;
  version: number;
  title: string;
  description?: string;
  /** JSON Schema for the case file. */
  caseFileSchema: Record<string, unknown>;
  goals: GoalSpec[];
  milestones: MilestoneSpec[];
  /** Started when the case opens. */
  defaultFragments: FragmentRef[];
  /** Offered to workers on the planning table; any of these may be added at runtime. */
  discretionaryFragments: FragmentRef[];
  /** Roles that work this case type, e.g. agent, supervisor; and the default queue. */
  roles: string[];
  defaultQueue?: string;
  /** `auto`: resolve when all required goals are achieved; `owner`: wait for the owner to close. */
  resolution: 'auto' | 'owner';
  /** Inbound events that open (or attach to) a case of this type. */
  intake?: IntakeRule[];
  /** Warning and breach escalations for goals with deadlines. */
  slas?: SlaSpec[];
}

/**
 * Intake (engagement) rule: what an inbound event from an integrator does for this case type.
 * A template's rules are evaluated in order; the first whose `when` holds decides for that template.
 */
export const INTAKE_ACTIONS = ['open', 'attach', 'record'] as const;
/** `open` a new case; `attach` to the customer's open case of this type (open one if none); `record` only. */
export type IntakeAction = (typeof INTAKE_ACTIONS)[number];

export interface IntakeRule {
  /** Inbound source, as in `POST /v1/inbound/:source` (e.g. `social-listening`, `crm`). */
  source: string;
  /** Event type from the source, e.g. `social.post.created`. */
  eventType: string;
  /** CEL over `{ event }`; the rule applies when it holds. Absent: always. */
  when?: string;
  action: IntakeAction;
  /** Priority of an opened case; the first matching `priorityRules` entry overrides it. */
  priority: Priority;
  priorityRules?: { when: string; priority: Priority }[];
}

export const ESCALATION_ACTIONS = ['notify', 'reassign', 'setPriority'] as const;
export type EscalationAction = (typeof ESCALATION_ACTIONS)[number];

/** What happens when a goal deadline reaches its warning (at risk) or breach point. */
export type Escalation =
  | { action: 'notify'; role?: string; queue?: string }
  | { action: 'reassign'; role?: string; queue?: string }
  | { action: 'setPriority'; priority: Priority };

/** Service level on a goal with a deadline. */
export interface SlaSpec {
  /** Key of a goal of this template that has a `deadline`. */
  goal: string;
  /** ISO 8601 duration before the deadline at which the goal is at risk (`PT15M`). */
  warnBefore?: string;
  onWarning?: Escalation[];
  onBreach?: Escalation[];
}
