/**
 * Case templates (case-templates/*.yaml): what a kind of case must achieve, not how.
 * Versions are immutable; the stored copy of a version is what running cases use.
 */
import type { IntakeKind } from '../inbound/intake-event.js';
import type { Priority } from '../cases/types.js';
import type { FragmentRef } from '../fragments/types.js';
import type { PriorityFactorName, Severity } from '../signals/priority-score.js';
import type { DeviationSpec } from './deviation-schema.js';

export interface GoalSpec {
  key: string;
  title: string;
  /** CEL over { caseFile, milestones, fragments, case } that makes the goal achieved. */
  condition: string;
  required: boolean;
  /** Deadline as an ISO 8601 duration from case open (`PT1H`, `P2D`), if any. */
  deadline?: string;
  /**
   * Start the deadline clock when this milestone is reached instead of at case open ("decide
   * within 2 days of the supplier's answer"). Until then the goal has no deadline and no SLA points.
   */
  deadlineFrom?: { milestone: string };
  /**
   * Measure `deadline` in this calendar's working time (overrides the template's `calendar`).
   * Without either, the deadline is elapsed time. See `BusinessCalendar` for what `P2D` means.
   */
  deadlineCalendar?: BusinessCalendar;
}

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/**
 * Working hours and holidays in one IANA time zone. A goal deadline measured in working time
 * counts only the time inside `week` intervals, on days that are not `holidays`:
 * - the time part (`PT8H`, `PT30M`) is working time: from 16:00 with 9-17 hours, `PT2H` ends
 *   at 10:00 on the next working day;
 * - the day part (`P2D`) counts working days: the same point of the working day, N working days
 *   later (a start outside working hours counts from the next opening, so `P1D` from Saturday
 *   ends Monday at closing). Weeks, months and years are refused; write days.
 * Local wall-clock times, so a DST change moves the UTC instant, never the local hour.
 */
export interface BusinessCalendar {
  /** IANA zone, e.g. `Europe/Berlin`. */
  zone: string;
  /** Local `HH:mm` intervals per weekday, `[open, close)`; `24:00` closes at midnight. Missing day: closed. */
  week: Partial<Record<Weekday, [string, string][]>>;
  /** ISO dates (`2026-12-25`) in `zone` on which nothing is working time. */
  holidays?: string[];
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
  /**
   * Cases of this type may be put on hold (`case.hold`) and resumed (`case.resume`). While on
   * hold the goal clocks stop: SLA timers are cancelled and, on resume, every open goal gets back
   * the time it had left at the hold (working time under a calendar). Absent or false: `case.hold`
   * is refused (HOLD_NOT_ALLOWED).
   */
  pausable?: boolean;
  /**
   * Working calendar of the case type: goal deadlines (a goal's `deadlineCalendar` wins), SLA
   * warning points, task `due` times and ISO `after` delays count its working time; millisecond
   * `after` delays stay elapsed time.
   */
  calendar?: BusinessCalendar;
  /** How the priority score is computed for this case type (defaults: signals/priority-score.ts). */
  priority?: TemplatePriority;
  /** Reach / virality thresholds: crossing one raises the priority and runs its actions, once per case. */
  escalations?: SignalEscalation[];
  /**
   * Behaviour deviation: a proactive case of this template opens for a customer whose next
   * activity of `kinds` is overdue (`last + k x own mean gap`); see deviation-schema.ts.
   */
  deviation?: DeviationSpec;
  /**
   * Entry and exit criteria (CMMN sentries) of default and discretionary fragments, evaluated in
   * declaration order after every change (cases/sentries.ts).
   */
  sentries?: SentrySpec[];
}

/**
 * A sentry on one of the template's fragments. `startWhen`: the fragment starts (once per case)
 * when the CEL condition over the case becomes true — a default fragment with one is not started
 * at open. `exitWhen`: a running instance ends (cancelled, its tasks and timers with it) when the
 * condition becomes true. Conditions read what goal conditions read (`caseFile`, `milestones`,
 * `fragments`, `case`, `customer`).
 */
export interface SentrySpec {
  fragment: FragmentRef;
  startWhen?: string;
  exitWhen?: string;
}

export interface TemplatePriority {
  /** The case type's severity, one factor of the score (default normal). */
  severity?: Severity;
  /** Weight per factor (>= 0; missing ones keep their default). */
  weights?: Partial<Record<PriorityFactorName, number>>;
  /** Score (0..100) from which the priority is normal, high, urgent; strictly increasing. */
  thresholds?: { normal?: number; high?: number; urgent?: number };
}

export interface SignalEscalation {
  /** Exactly one: the widest post's reach, or the fastest post's engagements per hour. */
  when: { reach?: number; virality?: number };
  /** The priority becomes at least this (default: one step above what it was). */
  raisePriority?: Priority;
  /** notify (outbound case.escalated names the role/queue), reassign (to a queue), startFragment. */
  actions: Escalation[];
}

/**
 * Intake (engagement) rule: what a normalised inbound event (inbound/intake-event.ts) does.
 * Rules across templates are tried in one order — templates by key, each template's rules in
 * file order — and the first whose source, event type, kind and `when` match decides
 * (inbound/intake-rules.ts). No rule matches: the event is only recorded on the customer.
 */
export const INTAKE_ACTIONS = ['open', 'attach', 'record'] as const;
/**
 * `open` a case of this template (or thread into this template's active case found by `threadBy`);
 * `attach` to the customer's active case (any template) found by `threadBy`, else record;
 * `record` on the customer only.
 */
export type IntakeAction = (typeof INTAKE_ACTIONS)[number];

export interface IntakeRule {
  /** Inbound source, as in `POST /v1/inbound/:source` (e.g. `social-listening`, `crm`). */
  source: string;
  /** Event type the source mapping gives, e.g. `social.post.created`. */
  eventType: string;
  /** Only events of this kind (`social_post`, `crm_event`, `activity`, `case_event`). Absent: any. */
  kind?: IntakeKind;
  /** CEL over `{ event, customer }`; the rule applies when it holds. Absent: always. */
  when?: string;
  action: IntakeAction;
  /** `open`: the queue the case is routed to (default: the template's `defaultQueue`). */
  queue?: string;
  /** `open`: CEL producing the case title (default: the template title and the customer's handle). */
  title?: string;
  /** Priority of an opened case; the first matching `priorityRules` entry overrides it. */
  priority: Priority;
  priorityRules?: { when: string; priority: Priority }[];
  /**
   * How an event finds the case it belongs to: `ref:<name>` (the event's external reference of
   * that name), `identity` (same channel + handle), `customer` (any identity of the customer).
   * Tried in that precedence whatever the order written. Required for `attach`.
   */
  threadBy?: string[];
}

export const ESCALATION_ACTIONS = ['notify', 'reassign', 'setPriority', 'startFragment'] as const;
export type EscalationAction = (typeof ESCALATION_ACTIONS)[number];

/** What happens when a goal deadline reaches its warning (at risk) or breach point. */
export type Escalation =
  | { action: 'notify'; role?: string; queue?: string }
  | { action: 'reassign'; role?: string; queue?: string }
  | { action: 'setPriority'; priority: Priority }
  /** Opens an escalation fragment (library `key@version`) in the case, assigned to `queue` if given. */
  | { action: 'startFragment'; fragment: FragmentRef; queue?: string };

/** Service level on a goal with a deadline. */
export interface SlaSpec {
  /** Key of a goal of this template that has a `deadline`. */
  goal: string;
  /** ISO 8601 duration before the deadline at which the goal is at risk (`PT15M`). */
  warnBefore?: string;
  onWarning?: Escalation[];
  onBreach?: Escalation[];
}
