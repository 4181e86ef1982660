/** Wire shapes of the console's routes (GET /v1/goals/summary, /v1/goals, /v1/workload, ...). */
export type SlaState = 'on_track' | 'at_risk' | 'breached';

export interface SlaCounts {
  on_track: number;
  at_risk: number;
  breached: number;
}

export interface Tiles extends SlaCounts {
  by_queue: Record<string, SlaCounts>;
  next_breach_at?: string | null;
}

export interface OpenGoal {
  case_id: string;
  case_title: string;
  template: { key: string; version: number };
  queue: string | null;
  owner_id: string | null;
  priority: string;
  case_status: string;
  goal_key: string;
  goal_title: string;
  sla: SlaState | null;
  deadline_at: string;
  at_risk_at: string | null;
  breached_at: string | null;
}

export interface AgentLoad {
  user_id: string;
  display_name: string | null;
  presence: string | null;
  teams: string[];
  open_tasks: number;
  units_used: number;
  units_capacity: number | null;
  tasks_at_risk: number;
  tasks_breached: number;
}

export interface QueueLoad {
  queue: string;
  backlog: number;
  unassigned: number;
  oldest_task_age_seconds: number | null;
  oldest_unassigned_age_seconds: number | null;
  tasks_at_risk: number;
  agents_available: number;
}

export interface Workload {
  as_of: string;
  agents: AgentLoad[];
  queues: QueueLoad[];
}

export interface AttainmentGroup {
  key: string | null;
  due: number;
  achieved_on_time: number;
  achieved_late: number;
  breached_open: number;
  pending: number;
  attainment: number | null;
}

export interface AttainmentReport {
  from: string;
  to: string;
  group_by: string;
  groups: AttainmentGroup[];
  total: Omit<AttainmentGroup, 'key'>;
}

export interface ReachAlert {
  case_id: string;
  case_title: string;
  queue: string | null;
  metric: string;
  value: number;
  limit: number;
  at: string;
}

export interface OpenTask {
  id: string;
  case_id: string;
  title: string;
  queue: string | null;
  assignee_id: string | null;
  due_at: string | null;
}
