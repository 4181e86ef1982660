/**
 * Who may take a task, as pure rules shared by the engine (claim, complete, assign, a task's
 * event sent through the events route) and by the routing query (persistence/next-work.ts, which
 * applies the same rank in SQL — keep the two in step).
 *
 * Roles rank agent < supervisor < admin: a task for an agent may be done by a supervisor or an
 * admin too, an approval (`role: supervisor`) only by a supervisor or an admin. A task without a
 * role is anyone's. Integrators and system actors (timers, inbound webhooks) rank below every
 * person, so they never work a task that names a role. A role name no person has (a definition
 * stored before definitions were checked for it) needs a supervisor.
 */
import type { Actor, CaseState, Priority, Role, Task } from './types.js';

const RANK: Record<string, number> = { agent: 1, supervisor: 2, admin: 3 };

export function roleRank(role: Role | 'system' | string): number {
  return RANK[role] ?? 0;
}

/** The rank a task's role asks for (0: anyone). */
export function requiredRank(taskRole: string | undefined): number {
  if (taskRole === undefined) return 0;
  return RANK[taskRole] ?? RANK['supervisor']!;
}

export function roleMayWork(taskRole: string | undefined, role: Role | 'system' | string): boolean {
  return roleRank(role) >= requiredRank(taskRole);
}

/**
 * Who may send a task's event through `POST /v1/cases/:id/events` (which then completes the task
 * as them): a supervisor or an admin, or the agent who holds the task (assigned or claimed) or
 * owns the case — each only if the task's role allows them. Integrators and system actors never:
 * the event of an approval can only come from someone allowed to approve.
 */
export function mayCompleteThroughEvent(state: CaseState, task: Task, actor: Actor): boolean {
  if (!roleMayWork(task.role, actor.role)) return false;
  if (actor.role === 'supervisor' || actor.role === 'admin') return true;
  if (actor.role !== 'agent') return false;
  return task.assignment.userId === actor.id || task.claimedBy === actor.id || state.ownerId === actor.id;
}

export const PRIORITY_RANK: Record<Priority, number> = { low: 1, normal: 2, high: 3, urgent: 4 };

/** The capacity bucket a kind of work counts against: its own, if the person has one, else `default`. */
export function capacityBucket(kind: string | undefined, capacity: Record<string, number>): string {
  const k = kind ?? 'default';
  return Object.hasOwn(capacity, k) ? k : 'default';
}

/** Effort of a task (units), default 1. */
export function effortOf(task: Pick<Task, 'effort'>): number {
  return task.effort ?? 1;
}
