import { emit, journal, type Draft } from './draft.js';
import { reject } from './rejection.js';
import { goalScope } from './scope.js';
import type { Scope } from '../fragments/runtime.js';
import { addWorkingTime } from './business-calendar.js';
import { armSlaPoints, cancelSlaPoints } from './sla.js';
import { addIsoDuration } from './time.js';
import { windDown } from './wind-down.js';
import type { Goal } from './types.js';
import type { GoalSpec } from '../templates/types.js';

/**
 * The template's goals for a case opened now, with their SLA points armed. A deadline counts
 * working time when the goal (`deadlineCalendar`) or the template (`calendar`) has a calendar,
 * elapsed time otherwise.
 */
export function createTemplateGoals(d: Draft): void {
  for (const spec of d.ctx.template.goals) {
    const goal: Goal = { key: spec.key, title: spec.title, condition: spec.condition, required: spec.required, status: 'open' };
    // A clock that starts at a milestone starts later (startMilestoneClocks).
    if (spec.deadline !== undefined && spec.deadlineFrom === undefined) goal.deadlineAt = deadlineFrom(d, spec, spec.deadline, d.ctx.now);
    d.case.goals.push(goal);
    armSlaPoints(d, goal);
  }
}

function deadlineFrom(d: Draft, spec: GoalSpec, deadline: string, start: Date): string {
  const calendar = spec.deadlineCalendar ?? d.ctx.template.calendar;
  return calendar === undefined
    ? addIsoDuration(start, deadline, `Goal "${spec.key}" deadline`)
    : addWorkingTime(start, deadline, calendar).toISOString();
}

/**
 * Starts the deadline of every open template goal whose clock waits for a milestone that has
 * now been reached: due `deadline` after the milestone's time, with its SLA points armed.
 * Once set, a deadline only moves through `goal.update` (or a hold).
 */
function startMilestoneClocks(d: Draft): void {
  for (const spec of d.ctx.template.goals) {
    const from = spec.deadlineFrom?.milestone;
    const reachedAt = from === undefined ? undefined : d.case.milestones[from];
    if (reachedAt === undefined || spec.deadline === undefined) continue;
    const goal = d.case.goals.find((g) => g.key === spec.key && g.adHoc !== true);
    if (!goal || goal.status !== 'open' || goal.deadlineAt !== undefined) continue;
    goal.deadlineAt = deadlineFrom(d, spec, spec.deadline, new Date(reachedAt));
    journal(d, 'goal.deadline_started', { goalKey: goal.key, milestone: from, deadlineAt: goal.deadlineAt });
    emit(d, 'goal.updated', { goalKey: goal.key, deadlineAt: goal.deadlineAt, reason: `milestone ${from} reached` });
    armSlaPoints(d, goal);
  }
}

/** Compiles a condition once per engine; rejects one that does not parse. */
export function compiledCondition(d: Draft, source: string): unknown {
  const cached = d.engine.cache.expressions.get(source);
  if (cached !== undefined) return cached;
  let compiled: unknown;
  try {
    compiled = d.engine.services.compileCondition(source);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    reject('INVALID_EXPRESSION', `Goal condition: ${message}`, { expression: source });
  }
  d.engine.cache.expressions.set(source, compiled);
  return compiled;
}

/**
 * Re-evaluates open goals against the case (see `goalScope` for what conditions read). A goal
 * achieved stays achieved; its pending SLA points are cancelled, and one achieved after its
 * deadline is `achievedLate` (and `breached`, even if the breach timer had not come back yet).
 * A condition that cannot be evaluated (a field not there yet) counts as not achieved.
 */
export function evaluateGoals(d: Draft): void {
  if (d.case.status !== 'open') return;
  startMilestoneClocks(d);
  const scope = goalScope(d.case, d.ctx.customer);
  for (const goal of d.case.goals) {
    if (goal.status !== 'open' || !holds(d, goal.condition, scope)) continue;
    goal.status = 'achieved';
    goal.achievedAt = d.now;
    cancelSlaPoints(d, goal);
    const late = goal.deadlineAt !== undefined && Date.parse(goal.deadlineAt) < d.ctx.now.getTime();
    if (late) {
      goal.achievedLate = true;
      goal.sla = 'breached';
    }
    journal(d, 'goal.achieved', { goalKey: goal.key, ...(late ? { achievedLate: true } : {}) });
    emit(d, 'goal.achieved', { goalKey: goal.key, title: goal.title, ...(late ? { achievedLate: true } : {}) });
  }
  maybeResolve(d);
}

/** A CEL condition over the case holds (one that cannot be evaluated yet does not). */
export function conditionHolds(d: Draft, condition: string, scope: Scope): boolean {
  return holds(d, condition, scope);
}

function holds(d: Draft, condition: string, scope: Scope): boolean {
  try {
    return d.engine.services.evaluateCondition(compiledCondition(d, condition), scope) === true;
  } catch {
    return false;
  }
}

/** `auto` resolution: the case resolves once every required goal (there must be one) is achieved. */
function maybeResolve(d: Draft): void {
  if (d.ctx.template.resolution !== 'auto' || d.case.status !== 'open') return;
  const required = d.case.goals.filter((g) => g.required && g.status !== 'cancelled');
  if (required.length === 0 || required.some((g) => g.status !== 'achieved')) return;
  d.case.status = 'resolved';
  d.case.resolvedAt = d.now;
  const wound = windDown(d);
  journal(d, 'case.resolved', { goals: required.map((g) => g.key), ...wound });
  emit(d, 'case.resolved', { goals: required.map((g) => g.key) });
}
