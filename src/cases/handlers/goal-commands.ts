import { emit, journal, requireReason, type Draft } from '../draft.js';
import { compiledCondition } from '../goals.js';
import { reject } from '../rejection.js';
import { parseTimestamp } from '../time.js';
import { armSlaPoints, cancelSlaPoints } from '../sla.js';
import type { Command, Goal } from '../types.js';

type AddGoal = Extract<Command, { type: 'goal.add' }>;
type UpdateGoal = Extract<Command, { type: 'goal.update' }>;

/** Adds an ad-hoc goal; its condition must compile; its deadline (if any) arms a breach point (no SLA escalations). */
export function addGoal(d: Draft, command: AddGoal): Record<string, unknown> {
  const spec = command.goal;
  if (d.case.goals.some((g) => g.key === spec.key)) {
    reject('GOAL_EXISTS', `Case ${d.case.id} already has a goal "${spec.key}"; choose another key or update it.`, { goalKey: spec.key });
  }
  compiledCondition(d, spec.condition);
  const goal: Goal = { key: spec.key, title: spec.title, condition: spec.condition, required: spec.required, status: 'open', adHoc: true };
  if (spec.deadlineAt !== undefined) goal.deadlineAt = parseTimestamp(spec.deadlineAt, `Goal "${spec.key}" deadline_at`);
  d.case.goals.push(goal);
  journal(d, 'goal.added', {
    goalKey: goal.key,
    title: goal.title,
    condition: goal.condition,
    required: goal.required,
    ...(goal.deadlineAt ? { deadlineAt: goal.deadlineAt } : {}),
  });
  emit(d, 'goal.added', { goalKey: goal.key, title: goal.title });
  armSlaPoints(d, goal);
  return { goalKey: goal.key };
}

/**
 * Changes a goal's title and/or deadline (reason required). `deadlineAt: null` removes the
 * deadline; a new one cancels and re-arms both SLA points (only while the goal is open): a
 * breached goal can breach again, an at-risk one is back on track when the new warning point
 * is still ahead (see `armSlaPoints`).
 */
export function updateGoal(d: Draft, command: UpdateGoal): Record<string, unknown> {
  requireReason(command.reason, 'Updating a goal');
  const goal = d.case.goals.find((g) => g.key === command.goalKey);
  if (!goal) reject('GOAL_NOT_FOUND', `Case ${d.case.id} has no goal "${command.goalKey}".`, { goalKey: command.goalKey });
  const changes: Record<string, unknown> = {};
  if (command.title !== undefined && command.title !== goal.title) {
    changes['title'] = { from: goal.title, to: command.title };
    goal.title = command.title;
  }
  if (command.deadlineAt !== undefined) {
    const next = command.deadlineAt === null ? undefined : parseTimestamp(command.deadlineAt, `Goal "${goal.key}" deadline_at`);
    changes['deadlineAt'] = { from: goal.deadlineAt ?? null, to: next ?? null };
    cancelSlaPoints(d, goal);
    if (next === undefined) delete goal.deadlineAt;
    else goal.deadlineAt = next;
    if (goal.status === 'open') {
      // A moved deadline can be reached again.
      delete goal.deadlineReachedAt;
      if (next === undefined) {
        delete goal.sla;
        delete goal.atRiskAt;
      }
      armSlaPoints(d, goal);
    }
  }
  journal(d, 'goal.updated', { goalKey: goal.key, changes });
  emit(d, 'goal.updated', { goalKey: goal.key, ...(goal.deadlineAt ? { deadlineAt: goal.deadlineAt } : {}) });
  return { goalKey: goal.key, changes };
}
