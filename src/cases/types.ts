/**
 * The case aggregate and the language of the engine.
 *
 * Glossary
 * - case: a goal-driven piece of non-routine work, opened from a template.
 * - goal: what must be achieved (a CEL condition) and by when (a deadline).
 * - milestone: a named point a fragment marks as reached (`setMilestone` action).
 * - fragment: a running XState machine (instance of a fragment definition) inside a case.
 * - task: a human step; a fragment state tagged `task` opens one on entry, closes it on exit.
 * - timer: a due time that comes back as a command (an XState `after` delay or a deadline point).
 * - SLA point: a goal deadline's warning point (deadline - `warnBefore`: the goal is at risk) and
 *   breach point (the deadline: breached); each is a `goal_deadline` timer that runs the
 *   template's escalations (notify, reassign, setPriority) when it fires.
 * - hold: a case `on_hold` (`case.hold`) has its goal clocks stopped; `case.resume` gives the open
 *   goals back the time they had left (working time under a business calendar).
 * - business calendar: working hours and holidays in a zone; deadlines may count only working time.
 * - outbox: an outbound event row, written in the command transaction, delivered after commit.
 * - journal: the append-only per-case record of every command and its effects, with actor and reason.
 * - command: a request to change one case; the engine decides it purely.
 * - effect: data the engine returns for the edge to persist (task rows, timers, outbox, content).
 */
import type { FragmentDefinition, FragmentRef, TaskSpec } from '../fragments/types.js';
import type { CaseTemplate } from '../templates/types.js';
import type { CustomerSnapshot } from '../customers/types.js';
import type { CommandRecord } from './command-record.js';

export const CASE_STATUSES = ['open', 'on_hold', 'resolved', 'closed', 'cancelled'] as const;
export type CaseStatus = (typeof CASE_STATUSES)[number];

export const ROLES = ['agent', 'supervisor', 'integrator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type Priority = (typeof PRIORITIES)[number];

export interface Actor {
  /** User id, or `system`, `timer`, `inbound:<source>`. */
  id: string;
  role: Role | 'system';
}

/** A person or a queue; exactly one is set. */
export interface Assignment {
  userId?: string;
  queue?: string;
}

export const GOAL_STATUSES = ['open', 'achieved', 'cancelled'] as const;
export type GoalStatus = (typeof GOAL_STATUSES)[number];

/**
 * Where an open goal stands against its deadline: `on_track` until the warning point,
 * `at_risk` from it, `breached` from the deadline. Kept once the goal is achieved (`achievedLate`
 * says whether that was after the deadline). Absent on goals without a deadline.
 */
export const GOAL_SLA_STATES = ['on_track', 'at_risk', 'breached'] as const;
export type GoalSlaState = (typeof GOAL_SLA_STATES)[number];

export interface Goal {
  key: string;
  title: string;
  condition: string;
  required: boolean;
  status: GoalStatus;
  /** ISO timestamp. */
  deadlineAt?: string;
  achievedAt?: string;
  /** Added at runtime rather than from the template. */
  adHoc?: boolean;
  /** Id of the pending breach-point `goal_deadline` timer (due at `deadlineAt`), while one is armed. */
  deadlineTimerId?: string;
  /** Id of the pending warning-point `goal_deadline` timer (`deadlineAt - warnBefore`), while one is armed. */
  warningTimerId?: string;
  /** Against the deadline; see GOAL_SLA_STATES. */
  sla?: GoalSlaState;
  /** ISO time the warning point fired (the goal became at risk). */
  atRiskAt?: string;
  /** ISO time the breach point fired while the goal was still open. */
  deadlineReachedAt?: string;
  /** Achieved after its deadline. */
  achievedLate?: boolean;
}

export const FRAGMENT_STATUSES = ['active', 'done', 'cancelled'] as const;
export type FragmentStatus = (typeof FRAGMENT_STATUSES)[number];

export interface FragmentInstance {
  id: string;
  /** `key@version` of the definition the snapshot belongs to. */
  definition: FragmentRef;
  title: string;
  status: FragmentStatus;
  assignment?: Assignment;
  /** XState persisted snapshot (opaque JSON). */
  snapshot: unknown;
  startedAt: string;
  endedAt?: string;
  /** Dotted paths of the active atomic states after the last step (read model + goal scope). */
  activeStates?: string[];
  /** XState send id -> timer id of every delay armed and not yet fired or cancelled. */
  pendingTimers?: Record<string, string>;
  /** Timer id -> the XState event to deliver when that timer fires. */
  timerEvents?: Record<string, { type: string; [key: string]: unknown }>;
}

export const TASK_STATUSES = ['open', 'completed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export interface Task {
  id: string;
  fragmentId: string;
  /** The state (dotted path) whose entry opened the task. */
  stateKey: string;
  title: string;
  role?: string;
  assignment: Assignment;
  form?: Record<string, unknown>;
  event: string;
  status: TaskStatus;
  openedAt: string;
  dueAt?: string;
  claimedBy?: string;
  /**
   * The queue the task belongs to (its first queue, or the last it was reassigned to); kept while
   * a person holds it, so the queue's backlog and workload still count it.
   */
  queue?: string;
  /** Routing requirements from `meta.task`: skill -> minimum level, units of capacity, capacity kind. */
  skills?: Record<string, number>;
  effort?: number;
  kind?: string;
  closedAt?: string;
  completedBy?: string;
  output?: Record<string, unknown>;
}

export interface CaseState {
  id: string;
  template: { key: string; version: number };
  title: string;
  status: CaseStatus;
  ownerId?: string;
  queue?: string;
  priority: Priority;
  /**
   * The case's customer as it was given, with `id` the customer aggregate's id once resolved
   * (commands/resolve-case-customer.ts). `channel`: of the handle.
   */
  customer?: { id?: string; name?: string; handle?: string; channel?: string; email?: string; phone?: string; externalIds?: Record<string, string> };
  /** External references for correlation (order id, ticket id, social handle...). */
  externalRefs: Record<string, string>;
  caseFile: Record<string, unknown>;
  /** Milestone key -> ISO time reached. */
  milestones: Record<string, string>;
  goals: Goal[];
  fragments: FragmentInstance[];
  /** Open tasks live in the aggregate; closed ones move to the task table only. */
  tasks: Task[];
  /** Number of commands applied; ETag `"v<version>"`. */
  version: number;
  openedAt: string;
  updatedAt: string;
  closedAt?: string;
  closeReason?: string;
  /** ISO time the case was resolved (all required goals achieved, `auto` resolution). */
  resolvedAt?: string;
  /** While `on_hold`: ISO time the hold began, and why. */
  heldAt?: string;
  holdReason?: string;
  /** Milliseconds spent on hold in earlier, finished holds. */
  heldMsTotal?: number;
  /**
   * Ids of tasks closed in this case. Closed tasks leave `tasks`; this lets the engine answer
   * TASK_NOT_OPEN rather than TASK_NOT_FOUND for them.
   */
  closedTaskIds?: string[];
  /** The brief built at the last handoff (reassignment of the case or one of its tasks). */
  handoffBrief?: HandoffBrief;
  /**
   * The social posts linked to the case, one per post identity (channel + post id or URL), with
   * their latest figures and a few recent samples (virality is computed from them). The full
   * history of each post is in `content_revisions`. Absent until the first post.
   */
  posts?: PostSignal[];
  /** How `priority` came about: score, factors, floor, override, escalations crossed. */
  priorityInfo?: PriorityInfo;
}

/** One engagement sample of a post: when the figures arrived, and what they were. */
export interface PostSample {
  at: string;
  engagements?: number;
  reach?: number;
}

export interface PostSignal {
  contentId: string;
  /** `channel|id:<post_id>` or `channel|url:<url>` (see signals/content-kinds.ts postIdentity). */
  identity: string;
  channel: string;
  authorHandle?: string;
  followers?: number;
  engagements?: number;
  reach?: number;
  postedAt?: string;
  /** What priority reads: the computed score when there is one, else the one the sender gave. */
  sentiment?: { score: number; source: 'computed' | 'provided'; model?: string };
  /** sha256 of the text the sentiment was computed from (recomputed only when it changes). */
  textHash?: string;
  revision: number;
  firstSeenAt: string;
  updatedAt: string;
  /** Newest last; at most POST_SAMPLES_KEPT (cases/post-signals.ts). */
  samples: PostSample[];
}

/** Percentiles (0..1) of the customer's values over the customer base. */
export interface CustomerValue {
  /** Lifetime value percentile; null when unknown. */
  clv: number | null;
  /** Referral value percentile; null when unknown. */
  crv: number | null;
  asOf?: string;
}

export interface PriorityFactor {
  name: string;
  /** The factor's input normalised to 0..1. */
  value: number;
  weight: number;
  /** Points of the score (0..100) this factor gives: the contributions sum to the score. */
  contribution: number;
  explanation: string;
}

export interface PriorityOverride {
  priority: Priority;
  by: string;
  reason: string;
  at: string;
}

export interface PriorityInfo {
  /** 0..100, the sum of the factors' contributions. */
  score: number;
  /** The priority the score maps to under the template's thresholds. */
  computed: Priority;
  /**
   * The lowest priority the case may have whatever the score: the priority it was opened with,
   * raised by SLA and reach escalations and set by fragments' `setPriority`.
   */
  floor: Priority;
  factors: PriorityFactor[];
  computedAt: string;
  /** The customer value last used (percentiles). */
  customerValue?: CustomerValue;
  /** A supervisor's override: the priority holds until it is lifted. */
  override?: PriorityOverride;
  /** Escalation thresholds already crossed (`reach>=10000`, `virality>=50`): each runs once. */
  crossed: string[];
}

export const CONTENT_KINDS = ['note', 'attachment', 'social_post', 'crm_profile'] as const;
export type ContentKind = (typeof CONTENT_KINDS)[number];

export interface ContentItem {
  id: string;
  kind: ContentKind;
  /** What the sender sent (checked against the kind's schema). */
  data: Record<string, unknown>;
  addedBy: string;
  addedAt: string;
  /** What Tessera computed from it: the sentiment of a post's text. */
  analysis?: ContentAnalysis;
  /** Social posts: 1 when added, +1 for every update. */
  revision?: number;
  updatedAt?: string;
  updatedBy?: string;
}

export interface ContentAnalysis {
  sentiment?: { score: number; label: 'negative' | 'neutral' | 'positive'; model: string };
}

/** One version of a content item (posts keep every one). */
export interface ContentRevision {
  contentId: string;
  revision: number;
  data: Record<string, unknown>;
  analysis?: ContentAnalysis;
  at: string;
  by: string;
}

/** Every change to a case is one of these. `reason` is required where noted. */
export type Command =
  | { type: 'case.open'; input: OpenCaseInput }
  | { type: 'event.send'; event: { type: string; data?: Record<string, unknown> }; fragmentId?: string }
  | { type: 'fragment.add'; source: FragmentSource; assignment?: Assignment; reason?: string }
  | { type: 'fragment.migrate'; fragmentId: string; to: FragmentRef; stateMapping: Record<string, string>; reason: string; dryRun?: boolean }
  | { type: 'fragment.jump'; fragmentId: string; state: string; reason: string }
  | { type: 'fragment.cancel'; fragmentId: string; reason: string }
  | { type: 'fragment.reassign'; fragmentId: string; assignment: Assignment; reason?: string }
  | { type: 'goal.add'; goal: { key: string; title: string; condition: string; required: boolean; deadlineAt?: string }; reason?: string }
  | { type: 'goal.update'; goalKey: string; deadlineAt?: string | null; title?: string; reason: string }
  | { type: 'case.reassign'; assignment: Assignment; reason?: string; handoff?: HandoffInput }
  | { type: 'task.claim'; taskId: string; handoff?: HandoffInput }
  /**
   * Gives an open task to a person: `next` (the person pulled it: `POST /v1/tasks/next`; it must
   * still be unassigned) or `push` (a supervisor chose them). The edge reads the person's role and
   * capacity in the same transaction and passes them in; over capacity needs `override.reason`.
   */
  | {
      type: 'task.assign';
      taskId: string;
      userId: string;
      userRole: Role;
      via: 'next' | 'push';
      capacity: { kind: string; used: number; limit: number };
      override?: { reason: string };
      handoff?: HandoffInput;
    }
  | { type: 'task.complete'; taskId: string; output: Record<string, unknown> }
  | { type: 'task.reassign'; taskId: string; assignment: Assignment; reason?: string; handoff?: HandoffInput }
  | { type: 'content.add'; kind: ContentKind; data: Record<string, unknown> }
  | { type: 'case.close'; reason?: string; status?: 'closed' | 'cancelled' }
  /** Stops the goal clocks (template must be `pausable`); reason required. */
  | { type: 'case.hold'; reason: string }
  /** Restarts them; open goals get back the time they had left at the hold (working time under a calendar). */
  | { type: 'case.resume'; reason?: string }
  | { type: 'timer.fire'; timerId: string }
  /** Recomputes the priority score (the customer's metrics changed); a no-op when nothing changes. */
  | { type: 'priority.recompute'; reason?: string }
  /** A supervisor sets the priority; it holds until `priority.release`. Reason required. */
  | { type: 'priority.override'; priority: Priority; reason: string }
  /** Lifts the override: the computed priority applies again. */
  | { type: 'priority.release'; reason?: string };

export type CommandType = Command['type'];

/**
 * What a handoff brief is built from besides the case itself, read by the edge in the command
 * transaction (the engine reads nothing): the journal since the last handoff, the case's latest
 * customer content, and — once a customer aggregate exists — the customer's own summary.
 */
export interface HandoffInput {
  /** Journal entries after `sinceVersion`, oldest first (at most the latest 200). */
  journal: (JournalEntry & { version: number })[];
  /** Entries after `sinceVersion` that exist, when more than `journal` holds. */
  journalTotal: number;
  /** The latest social post and CRM profile attached to the case, if any. */
  latestContent: { kind: 'social_post' | 'crm_profile'; data: Record<string, unknown>; addedAt: string; analysis?: ContentAnalysis }[];
  /** The customer aggregate's summary (value, mood, last contact), when the case has a customer. */
  customer?: CustomerSummary;
}

/** A customer as a brief needs them; every field optional. */
export interface CustomerSummary {
  id?: string;
  name?: string;
  lifetimeValue?: number;
  segment?: string;
  churnRisk?: number;
  /** Latest sentiment, -1 .. 1. */
  sentiment?: number;
  sentimentAt?: string;
  lastContact?: { at: string; channel?: string; summary?: string };
}

/** See cases/handoff-brief.ts. */
export interface HandoffBrief {
  builtAt: string;
  /** Case version the brief was built at (the handoff command's version). */
  atVersion: number;
  /** The brief covers journal versions after this one (the previous handoff, or 0). */
  sinceVersion: number;
  handoff: { kind: 'case' | 'task'; taskId?: string; to: Assignment; from?: Assignment; by: string };
  sinceLastHandoff: {
    entries: number;
    byType: Record<string, number>;
    /** The latest notable entries, oldest first (at most 15). */
    highlights: { version: number; at: string; type: string; actorId: string; summary: string }[];
  };
  openGoals: { key: string; title: string; required: boolean; deadlineAt?: string; sla?: GoalSlaState }[];
  pendingTasks: { id: string; title: string; role?: string; assignment: Assignment; dueAt?: string }[];
  lastCustomerContact: { at: string; channel?: string; summary?: string; source: 'customer' | 'case_content' } | null;
  customer: {
    source: 'customer' | 'case_content';
    value: { lifetimeValue?: number; segment?: string; churnRisk?: number } | null;
    mood: { sentiment: number; label: 'negative' | 'neutral' | 'positive'; at?: string } | null;
  } | null;
}

export interface OpenCaseInput {
  title: string;
  priority?: Priority;
  ownerId?: string;
  queue?: string;
  customer?: CaseState['customer'];
  externalRefs?: Record<string, string>;
  caseFile?: Record<string, unknown>;
}

export type FragmentSource =
  | { kind: 'library'; ref: FragmentRef }
  | { kind: 'inline'; definition: Omit<FragmentDefinition, 'key' | 'version'> & { key?: string } }
  | { kind: 'checklist'; title: string; steps: string[] };

/** What the edge must persist besides the aggregate itself. */
export type Effect =
  | { type: 'task.upsert'; task: Task }
  | { type: 'timer.schedule'; timer: TimerSpec }
  | { type: 'timer.cancel'; timerId: string }
  | { type: 'outbox.emit'; event: OutboundEvent }
  | { type: 'content.add'; item: ContentItem }
  /** A post sent again: the content row takes `item` (the latest), and `revision` is appended to its history. */
  | { type: 'content.update'; item: ContentItem; revision: ContentRevision }
  /** An inline/checklist definition authored at runtime, stored for replay. */
  | { type: 'definition.store'; definition: FragmentDefinition }
  /** What the decision was made from (cases/command-record.ts), stored for replay; added by `recordCommands`. */
  | { type: 'command.record'; record: CommandRecord };

export interface TimerSpec {
  /** Deterministic id (no `:`), also the BullMQ job id. */
  id: string;
  dueAt: string;
  kind: 'fragment_delay' | 'goal_deadline';
  fragmentId?: string;
  goalKey?: string;
  /**
   * For fragment delays: the XState delayed event to deliver. For goal deadlines:
   * `{ type: 'tessera.goal.warning' | 'tessera.goal.breach', goalKey }`, so the point survives a
   * store that keeps only the columns it knows (the engine itself reads the goal's timer ids).
   */
  event?: { type: string; [key: string]: unknown };
  /** For goal deadlines: which SLA point this timer is. */
  point?: 'warning' | 'breach';
}

export interface OutboundEvent {
  id: string;
  /** From the published catalog: case.opened, case.resolved, task.assigned, fragment.completed, ... */
  type: string;
  data: Record<string, unknown>;
  occurredAt: string;
}

export interface JournalEntry {
  /** What happened, e.g. `case.opened`, `fragment.added`, `task.completed`, `goal.achieved`. */
  type: string;
  actor: Actor;
  reason?: string;
  data: Record<string, unknown>;
  at: string;
}

/** Read-only inputs of a decision: time and ids come in, nothing is read from the world. */
export interface DecideContext {
  now: Date;
  actor: Actor;
  /** Deterministic id source supplied by the caller (random at the edge, sequential in tests). */
  newId: () => string;
  template: CaseTemplate;
  /** Resolve `key@version` to a definition (library or stored inline); undefined if unknown. */
  definitions: (ref: FragmentRef) => FragmentDefinition | undefined;
  /**
   * The case customer's value percentiles, looked up by the edge for commands that compute the
   * priority (open, content, priority commands): `null` when the customer is unknown, absent when
   * not looked up (the value last stored on the case is used).
   */
  customerValue?: CustomerValue | null;
  /** The case's customer as CEL reads it (`customer.*`), loaded with the case; absent without one. */
  customer?: CustomerSnapshot;
}

export type Decision =
  | { ok: true; case: CaseState; effects: Effect[]; journal: JournalEntry[]; result?: Record<string, unknown> }
  | { ok: false; error: DomainError };

export interface DomainError {
  /** Stable code from errors.ts, e.g. `EVENT_NOT_ACCEPTED`, `STATE_NOT_FOUND`. */
  code: string;
  message: string;
  /** Extra fields for the problem+json body (e.g. `accepted_events`). */
  details?: Record<string, unknown>;
}
