/**
 * The workload view (`GET /v1/workload`): who carries what, and what waits in each queue. Read
 * from the task rows' routing columns (migration 0025) with index-only scans of the two partial
 * indexes over open tasks; ages are measured against the database's clock.
 */
import { sql, type Kysely } from 'kysely';
import { capacityBucket } from '../cases/task-eligibility.js';
import type { Database } from './schema.js';
import { listWorkers } from './user-directory.js';

export interface AgentLoad {
  userId: string;
  displayName: string | null;
  role: string | null;
  presence: string | null;
  teams: string[];
  openTasks: number;
  /** Per capacity bucket: units used of capacity (`capacity` null: no user row for this assignee). */
  units: Record<string, { used: number; capacity: number | null }>;
  unitsUsed: number;
  unitsCapacity: number | null;
  oldestTaskAgeSeconds: number | null;
  /** Open tasks whose case has an open goal at risk or breached. */
  tasksAtRisk: number;
  tasksBreached: number;
}

export interface QueueLoad {
  queue: string;
  /** Open tasks of the queue, held by a person or not. */
  backlog: number;
  unassigned: number;
  oldestTaskAgeSeconds: number | null;
  oldestUnassignedAgeSeconds: number | null;
  tasksAtRisk: number;
  /** People with the queue among their teams whose presence is available. */
  agentsAvailable: number;
}

export async function readWorkload(db: Kysely<Database>): Promise<{ asOf: string; agents: AgentLoad[]; queues: QueueLoad[] }> {
  const [workers, held, queued] = await Promise.all([
    listWorkers(db),
    sql<{ assignee_id: string; kind: string; n: number; units: number; oldest: number | null; at_risk: number; breached: number }>`
      select assignee_id, kind, count(*)::int as n, sum(effort)::int as units,
        extract(epoch from statement_timestamp() - min(opened_at))::float8 as oldest,
        count(*) filter (where sla in ('at_risk', 'breached'))::int as at_risk,
        count(*) filter (where sla = 'breached')::int as breached
      from tasks where status = 'open' and assignee_id is not null
      group by assignee_id, kind`.execute(db),
    sql<{ work_queue: string; backlog: number; unassigned: number; oldest: number | null; oldest_unassigned: number | null; at_risk: number; as_of: Date }>`
      select work_queue, count(*)::int as backlog,
        count(*) filter (where assignee_id is null)::int as unassigned,
        extract(epoch from statement_timestamp() - min(opened_at))::float8 as oldest,
        extract(epoch from statement_timestamp() - min(opened_at) filter (where assignee_id is null))::float8 as oldest_unassigned,
        count(*) filter (where sla in ('at_risk', 'breached'))::int as at_risk,
        statement_timestamp() as as_of
      from tasks where status = 'open' and work_queue is not null
      group by work_queue order by work_queue`.execute(db),
  ]);

  const agents = new Map<string, AgentLoad>();
  for (const w of workers) {
    const units: AgentLoad['units'] = {};
    for (const [bucket, capacity] of Object.entries(w.capacity)) units[bucket] = { used: 0, capacity };
    agents.set(w.id, {
      userId: w.id,
      displayName: w.displayName,
      role: w.role,
      presence: w.presence,
      teams: w.teams,
      openTasks: 0,
      units,
      unitsUsed: 0,
      unitsCapacity: Object.values(w.capacity).reduce((a, b) => a + b, 0),
      oldestTaskAgeSeconds: null,
      tasksAtRisk: 0,
      tasksBreached: 0,
    });
  }
  const capacities = new Map(workers.map((w) => [w.id, w.capacity]));
  for (const row of held.rows) {
    let agent = agents.get(row.assignee_id);
    if (!agent) {
      // Work assigned to an id with no user row (an API-key-only user): shown, without capacity.
      agent = { userId: row.assignee_id, displayName: null, role: null, presence: null, teams: [], openTasks: 0, units: {}, unitsUsed: 0,
        unitsCapacity: null, oldestTaskAgeSeconds: null, tasksAtRisk: 0, tasksBreached: 0 };
      agents.set(row.assignee_id, agent);
    }
    const capacity = capacities.get(row.assignee_id);
    const bucket = capacity ? capacityBucket(row.kind, capacity) : row.kind;
    const slot = (agent.units[bucket] ??= { used: 0, capacity: capacity ? (capacity[bucket] ?? 0) : null });
    slot.used += row.units;
    agent.openTasks += row.n;
    agent.unitsUsed += row.units;
    agent.tasksAtRisk += row.at_risk;
    agent.tasksBreached += row.breached;
    if (row.oldest !== null) agent.oldestTaskAgeSeconds = Math.max(agent.oldestTaskAgeSeconds ?? 0, Math.round(row.oldest));
  }
  const available = (queue: string) => workers.filter((w) => w.presence === 'available' && w.teams.includes(queue)).length;
  const queues: QueueLoad[] = queued.rows.map((q) => ({
    queue: q.work_queue,
    backlog: q.backlog,
    unassigned: q.unassigned,
    oldestTaskAgeSeconds: q.oldest === null ? null : Math.round(q.oldest),
    oldestUnassignedAgeSeconds: q.oldest_unassigned === null ? null : Math.round(q.oldest_unassigned),
    tasksAtRisk: q.at_risk,
    agentsAvailable: available(q.work_queue),
  }));
  const asOf = queued.rows[0]?.as_of ? new Date(queued.rows[0].as_of).toISOString() : new Date().toISOString();
  return { asOf, agents: [...agents.values()].sort((a, b) => a.userId.localeCompare(b.userId)), queues };
}
