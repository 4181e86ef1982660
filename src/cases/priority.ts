/**
 * The case priority as the engine keeps it: effective = override ?? max(floor, computed).
 *
 * - computed: the score's priority (signals/priority-score.ts) from the customer's value, the
 *   posts (sentiment, reach, influence, virality) and the template's severity and weights;
 *   recomputed when the case opens, when content arrives or a post is updated, when the
 *   customer's metrics change (`priority.recompute`) and on override commands;
 * - floor: the priority the case was opened with (when one was given), raised by SLA
 *   `setPriority` and reach escalations, set by fragments' `setPriority`;
 * - override: a supervisor's; holds until lifted. Recomputing still records the score and the
 *   factors meanwhile; the effective priority stays.
 *
 * `priority.changed` is journaled only when the score, the computed or the effective priority
 * changes; the outbound `case.priority_changed` only when the effective priority changes.
 */
import { scorePriority } from '../signals/priority-score.js';
import { emit, journal, type Draft } from './draft.js';
import { postFacts } from './post-signals.js';
import { PRIORITIES, type Actor, type CustomerValue, type Priority, type PriorityInfo } from './types.js';

export const PRIORITY_ACTOR: Actor = { id: 'priority', role: 'system' };

export function maxPriority(a: Priority, b: Priority): Priority {
  return PRIORITIES.indexOf(a) >= PRIORITIES.indexOf(b) ? a : b;
}

export function stepUp(p: Priority): Priority {
  return PRIORITIES[Math.min(PRIORITIES.length - 1, PRIORITIES.indexOf(p) + 1)]!;
}

/** The priority info of a case written before priorities were computed: its priority is the floor. */
function infoOf(d: Draft): PriorityInfo {
  d.case.priorityInfo ??= { score: 0, computed: 'low', floor: d.case.priority, factors: [], computedAt: d.now, crossed: [] };
  return d.case.priorityInfo;
}

export function effectiveOf(info: PriorityInfo): Priority {
  return info.override?.priority ?? maxPriority(info.floor, info.computed);
}

/** Sets up the priority of a new case: the given priority is the floor (default: low, the score decides). */
export function openPriority(d: Draft, given: Priority | undefined): void {
  d.case.priorityInfo = { score: 0, computed: 'low', floor: given ?? 'low', factors: [], computedAt: d.now, crossed: [] };
  recomputePriority(d, 'case.open', { quiet: true });
}

/**
 * Recomputes the score and applies the effective priority. `trigger` names what asked
 * (journaled). `quiet`: no journal entry or outbound event (the case is being opened: case.opened
 * carries the priority). Returns whether anything changed.
 */
export function recomputePriority(d: Draft, trigger: string, options: { quiet?: boolean } = {}): boolean {
  const info = infoOf(d);
  const customerValue: CustomerValue | null | undefined = d.ctx.customerValue !== undefined ? d.ctx.customerValue : info.customerValue;
  const result = scorePriority(
    { customer: customerValue ?? null, posts: postFacts(d.case.posts ?? []) },
    d.ctx.template.priority ?? {},
  );
  const before = { score: info.score, computed: info.computed, priority: d.case.priority, hadFactors: info.factors.length > 0 };
  info.score = result.score;
  info.computed = result.priority;
  info.factors = result.factors;
  info.computedAt = d.now;
  if (customerValue) info.customerValue = customerValue;
  else delete info.customerValue;
  return settle(d, trigger, before, options.quiet === true);
}

export interface PriorityBefore {
  score: number;
  computed: Priority;
  priority: Priority;
  hadFactors: boolean;
}

/** The priority as it is now, to journal a change against later (`settlePriority`). */
export function priorityBefore(d: Draft): PriorityBefore {
  const info = infoOf(d);
  return { score: info.score, computed: info.computed, priority: d.case.priority, hadFactors: info.factors.length > 0 };
}

/**
 * Applies floor/override changes to the effective priority (no rescoring), journaling against
 * `before` (default: now).
 */
export function settlePriority(d: Draft, trigger: string, before: PriorityBefore = priorityBefore(d)): boolean {
  return settle(d, trigger, before, false);
}

function settle(d: Draft, trigger: string, before: PriorityBefore, quiet: boolean): boolean {
  const info = d.case.priorityInfo!;
  const next = effectiveOf(info);
  const priorityChanged = next !== before.priority;
  const changed = priorityChanged || info.score !== before.score || info.computed !== before.computed || !before.hadFactors;
  d.case.priority = next;
  if (!changed || quiet) return changed;
  // Journaled by the command's actor: the integrator's post raised it, or the customer's metrics did.
  journal(d, 'priority.changed', {
    trigger,
    from: { priority: before.priority, score: before.score, computed: before.computed },
    to: { priority: next, score: info.score, computed: info.computed },
    overridden: info.override !== undefined,
    floor: info.floor,
    factors: info.factors.map((f) => ({ name: f.name, contribution: f.contribution })),
  });
  if (priorityChanged) emit(d, 'case.priority_changed', { from: before.priority, to: next, score: info.score, trigger });
  return changed;
}

/**
 * Raises (`raise`) or sets the floor. Used by SLA and reach escalations (raise) and the
 * fragments' `setPriority` (set). Returns the effective priority before and after.
 */
export function setPriorityFloor(d: Draft, priority: Priority, mode: 'raise' | 'set'): { from: Priority; to: Priority } {
  const info = infoOf(d);
  const from = d.case.priority;
  info.floor = mode === 'raise' ? maxPriority(info.floor, priority) : priority;
  d.case.priority = effectiveOf(info);
  return { from, to: d.case.priority };
}
