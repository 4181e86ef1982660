/**
 * Object-level authorization: who may see or work which case and task. Function-level rules
 * (which role may call a route at all) are declared on the routes (`config.roles`).
 *
 * - admin, supervisor: every case.
 * - agent: cases they own, or where a task or fragment is assigned to them, or whose queue
 *   (the case's, or an open task's) is one of their teams.
 * - integrator: no case reads; events and content only (declared per route).
 * A case an agent may not see answers 404, so ids do not leak what exists. The list queries
 * apply the same rule in SQL (persistence/case-queries.ts `visibleTo`): keep the two in step.
 */
import type { CaseState, Task } from '../cases/types.js';
import { TesseraError } from '../errors.js';
import type { Principal } from '../persistence/api-key-store.js';

export function isAssignedTo(state: CaseState, userId: string): boolean {
  return (
    state.ownerId === userId ||
    state.tasks.some((t) => t.assignment.userId === userId || t.claimedBy === userId) ||
    state.fragments.some((f) => f.assignment?.userId === userId)
  );
}

/** The case, or one of its open tasks, is queued to one of the teams. */
export function isQueuedTo(state: CaseState, teams: readonly string[]): boolean {
  const inTeams = (queue: string | undefined) => queue !== undefined && teams.includes(queue);
  return inTeams(state.queue) || state.tasks.some((t) => inTeams(t.assignment.queue));
}

export function canSeeCase(principal: Principal, state: CaseState): boolean {
  if (principal.role === 'admin' || principal.role === 'supervisor') return true;
  if (principal.role === 'agent') return isAssignedTo(state, principal.userId) || isQueuedTo(state, principal.teams);
  return false;
}

/** What the list queries need to apply the agent rule in SQL; undefined: no restriction. */
export function listViewer(principal: Principal): { userId: string; teams: readonly string[] } | undefined {
  return principal.role === 'agent' ? { userId: principal.userId, teams: principal.teams } : undefined;
}

/** Throws 404 for a case the principal may not see. */
export function assertCanSeeCase(principal: Principal, state: CaseState): void {
  if (!canSeeCase(principal, state)) throw new TesseraError('CASE_NOT_FOUND', `No case has id ${state.id}`);
}

/** Integrators post events and content to any case they know the id of; others need access. */
export function assertCanFeedCase(principal: Principal, state: CaseState): void {
  if (principal.role === 'integrator') return;
  assertCanSeeCase(principal, state);
}

/** Jump and cancel rewrite the plan: the case owner, a supervisor or an admin. */
export function assertOwnerOrSupervisor(principal: Principal, state: CaseState): void {
  assertCanSeeCase(principal, state);
  if (principal.role === 'agent' && state.ownerId !== principal.userId) {
    throw new TesseraError('FORBIDDEN', 'Only the case owner or a supervisor may do this; ask a supervisor');
  }
}

/**
 * An agent works a task assigned to them, one they claimed, any on a case they own, or an
 * unclaimed task queued to one of their teams. A task on a case they may not see answers 404.
 */
export function assertCanWorkTask(principal: Principal, state: CaseState, task: Task | undefined): void {
  if (principal.role === 'admin' || principal.role === 'supervisor') return;
  if (principal.role !== 'agent' || !task || !canSeeCase(principal, state)) {
    throw new TesseraError('TASK_NOT_FOUND', `No task has id ${task?.id ?? 'like this'}`);
  }
  const mine = task.assignment.userId === principal.userId || task.claimedBy === principal.userId || state.ownerId === principal.userId;
  const queue = task.assignment.queue;
  const teamQueueTask = task.assignment.userId === undefined && task.claimedBy === undefined && queue !== undefined && principal.teams.includes(queue);
  if (!mine && !teamQueueTask) {
    throw new TesseraError('FORBIDDEN', `Task ${task.id} is assigned to someone else; ask a supervisor to reassign it`);
  }
}

/**
 * Reassigning a fragment moves a piece of someone's plan: the case owner, the fragment's own
 * assignee, a supervisor or an admin. Others who may see the case get 403.
 */
export function assertMayReassignFragment(principal: Principal, state: CaseState, fragmentId: string): void {
  assertCanSeeCase(principal, state);
  if (principal.role !== 'agent') return;
  const fragment = state.fragments.find((f) => f.id === fragmentId);
  if (state.ownerId === principal.userId || fragment?.assignment?.userId === principal.userId) return;
  throw new TesseraError('FORBIDDEN', "Only the case owner, the fragment's assignee or a supervisor may reassign a fragment; ask a supervisor");
}
