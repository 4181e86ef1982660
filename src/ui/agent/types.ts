/** The API's shapes as the agent screens read them (see /openapi.json; only the fields used). */
export type Priority = 'low' | 'normal' | 'high' | 'urgent';
export type SlaState = 'on_track' | 'at_risk' | 'breached';

export interface GoalView {
  key: string;
  title: string;
  required: boolean;
  status: 'open' | 'achieved' | 'cancelled';
  deadline_at: string | null;
  achieved_at: string | null;
  ad_hoc: boolean;
  sla: SlaState | null;
  at_risk_at: string | null;
  achieved_late: boolean;
}

export interface GoalClock {
  kind: 'business' | 'calendar';
  zone: string | null;
  paused: boolean;
  paused_reason: 'case_on_hold' | 'outside_working_hours' | null;
  paused_detail: string | null;
}

export interface PriorityFactor {
  key?: string;
  name?: string;
  label?: string;
  contribution?: number;
  [k: string]: unknown;
}

export interface PriorityView {
  value: Priority;
  score: number | null;
  computed: Priority | null;
  factors: PriorityFactor[];
  computed_at: string | null;
  overridden_by: { user_id: string; priority: Priority; reason: string; at: string } | null;
}

export interface TaskView {
  id: string;
  case_id: string;
  fragment_id: string;
  state: string;
  title: string;
  role: string | null;
  assignee_id: string | null;
  queue: string | null;
  work_queue: string | null;
  form: JsonSchema | null;
  event: string;
  status: 'open' | 'completed' | 'cancelled';
  opened_at: string;
  due_at: string | null;
  claimed_by: string | null;
}

export interface FragmentView {
  id: string;
  definition: string;
  title: string;
  status: 'active' | 'done' | 'cancelled';
  states: string[];
  accepted_events: string[];
  assignee_id: string | null;
  queue: string | null;
  started_at: string;
  ended_at: string | null;
}

export interface PostView {
  content_id: string;
  channel: string;
  author_handle: string | null;
  reach: number | null;
  engagements: number | null;
  sentiment: { score: number; source: string; model: string | null } | null;
  engagements_per_hour: number | null;
  updated_at: string;
}

export interface CaseSummary {
  id: string;
  template: { key: string; version: number };
  title: string;
  status: string;
  priority: PriorityView;
  owner_id: string | null;
  queue: string | null;
  customer: { id?: string; name?: string; [k: string]: unknown } | null;
  goals: GoalView[];
  open_tasks?: number;
  version: number;
  opened_at: string;
  updated_at: string;
}

export interface CaseView extends CaseSummary {
  external_refs: Record<string, string>;
  case_file: unknown;
  milestones: Record<string, string>;
  posts: PostView[];
  fragments: FragmentView[];
  tasks: TaskView[];
  accepted_events: string[];
  closed_at: string | null;
  close_reason: string | null;
  held_at: string | null;
  hold_reason: string | null;
  handoff_brief: Record<string, unknown> | null;
  customer_summary?: Record<string, unknown>;
  goal_clocks?: Record<string, GoalClock>;
}

export interface TimelineEntry {
  version: number;
  idx: number;
  type: string;
  actor: { id: string; role: string };
  reason: string | null;
  data: unknown;
  at: string;
}

export interface ContentItem {
  id: string;
  kind: 'note' | 'attachment' | 'social_post' | 'crm_profile';
  data: Record<string, unknown>;
  added_by?: string;
  added_at?: string;
  analysis?: { sentiment?: { score: number; label?: string; model?: string } } | null;
  [k: string]: unknown;
}

/** The subset of JSON Schema task forms use. */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  items?: JsonSchema;
  [k: string]: unknown;
}

export const PRIORITY_RANK: Record<Priority, number> = { urgent: 3, high: 2, normal: 1, low: 0 };
