/**
 * Goal SLA points: a goal with a deadline has a breach point (the deadline) and, when the
 * template's SLA for it has `warnBefore`, a warning point. Each point is a `goal_deadline`
 * timer; the goal keeps their ids (`warningTimerId`, `deadlineTimerId`), so `timer.fire` needs
 * only the timer id. Firing sets the goal's `sla` (at_risk / breached) and runs the template's
 * escalations, journaled with the actor `SLA_ACTOR`.
 *
 * Ad-hoc goals have no SLA in the template: they get the breach point (and `sla`) but no
 * warning and no escalations.
 */
import { DateTime, Duration } from 'luxon';
import type { Escalation, SlaSpec } from '../templates/types.js';
import { subtractWorkingTime } from './business-calendar.js';
import { calendarOfGoal } from './goal-calendar.js';
import { caseFileProblems, describeCaseFileProblems } from './case-file-check.js';
import { compiledFor, emit, type Draft } from './draft.js';
import { setPriorityFloor } from './priority.js';
import { startFragment } from './start-fragment.js';
import { newTimerId } from './timers.js';
import { PRIORITIES, type Actor, type CaseState, type Goal, type JournalEntry } from './types.js';

/** The actor of every escalation the engine runs on its own. */
export const SLA_ACTOR: Actor = { id: 'sla', role: 'system' };

export type SlaPoint = 'warning' | 'breach';

const POINT_EVENT: Record<SlaPoint, string> = { warning: 'tessera.goal.warning', breach: 'tessera.goal.breach' };
const OUTBOUND: Record<SlaPoint, string> = { warning: 'goal.at_risk', breach: 'goal.breached' };

export function slaOf(d: Draft, goal: Goal): SlaSpec | undefined {
  if (goal.adHoc === true) return undefined;
  return d.ctx.template.slas?.find((s) => s.goal === goal.key);
}

/**
 * `deadlineAt - warnBefore`, if the SLA warns: in working time when the goal's deadline is
 * (`calendarOfGoal`) — "PT1H before" a deadline of Tuesday 09:30 with 9-17 hours is Monday 16:30,
 * not Tuesday 08:30 — in elapsed time otherwise.
 */
export function warningPointOf(d: Draft, goal: Goal): string | undefined {
  const warnBefore = slaOf(d, goal)?.warnBefore;
  if (warnBefore === undefined || goal.deadlineAt === undefined) return undefined;
  const calendar = calendarOfGoal(d, goal);
  if (calendar !== undefined) return subtractWorkingTime(new Date(goal.deadlineAt), warnBefore, calendar).toISOString();
  return DateTime.fromISO(goal.deadlineAt, { zone: 'utc' }).minus(Duration.fromISO(warnBefore)).toJSDate().toISOString();
}

/**
 * (Re-)arms both points of an open goal for its current deadline, cancelling pending ones.
 * The goal is `on_track` again, unless its warning point has passed and it was already warned
 * (at risk or breached before): then it stays `at_risk` and the warning does not run twice.
 * A passed warning point of a goal never warned is armed anyway: the timer is due at once and
 * runs the warning escalations through `timer.fire`, like any other.
 */
export function armSlaPoints(d: Draft, goal: Goal): void {
  cancelSlaPoints(d, goal);
  if (goal.status !== 'open' || goal.deadlineAt === undefined) return;
  const warned = goal.sla === 'at_risk' || goal.sla === 'breached';
  const warnAt = warningPointOf(d, goal);
  if (warnAt !== undefined && warned && Date.parse(warnAt) <= d.ctx.now.getTime()) {
    goal.sla = 'at_risk';
  } else {
    goal.sla = 'on_track';
    delete goal.atRiskAt;
    if (warnAt !== undefined) goal.warningTimerId = schedulePoint(d, goal, 'warning', warnAt);
  }
  goal.deadlineTimerId = schedulePoint(d, goal, 'breach', goal.deadlineAt);
}

function schedulePoint(d: Draft, goal: Goal, point: SlaPoint, dueAt: string): string {
  const id = newTimerId(d);
  d.effects.push({
    type: 'timer.schedule',
    timer: { id, dueAt, kind: 'goal_deadline', goalKey: goal.key, point, event: { type: POINT_EVENT[point], goalKey: goal.key } },
  });
  return id;
}

/** Cancels the goal's pending points; its `sla` state stays as it is. */
export function cancelSlaPoints(d: Draft, goal: Goal): void {
  for (const field of ['warningTimerId', 'deadlineTimerId'] as const) {
    const timerId = goal[field];
    if (timerId === undefined) continue;
    d.effects.push({ type: 'timer.cancel', timerId });
    delete goal[field];
  }
}

/**
 * Handles `timer.fire` for a goal's SLA point. Returns undefined when `timerId` is no goal's
 * pending point; `{ noop: true }` when the goal is no longer open.
 */
export function fireSlaPoint(d: Draft, timerId: string): Record<string, unknown> | undefined {
  const goal = d.case.goals.find((g) => g.warningTimerId === timerId || g.deadlineTimerId === timerId);
  if (!goal) return undefined;
  const point: SlaPoint = goal.warningTimerId === timerId ? 'warning' : 'breach';
  if (point === 'warning') delete goal.warningTimerId;
  else delete goal.deadlineTimerId;
  if (goal.status !== 'open') return { noop: true, reason: 'goal_not_open' };
  const data = { timerId, goalKey: goal.key, deadlineAt: goal.deadlineAt ?? null };
  const sla = slaOf(d, goal);
  if (point === 'warning') {
    goal.sla = 'at_risk';
    goal.atRiskAt = d.now;
    journalEntry(d, d.ctx.actor, 'goal.at_risk', data);
    escalate(d, goal, point, sla?.onWarning ?? []);
  } else {
    // A warning still pending (both overdue, breach delivered first) would only say less.
    if (goal.warningTimerId !== undefined) {
      d.effects.push({ type: 'timer.cancel', timerId: goal.warningTimerId });
      delete goal.warningTimerId;
    }
    goal.sla = 'breached';
    goal.deadlineReachedAt = d.now;
    journalEntry(d, d.ctx.actor, 'goal.breached', data);
    escalate(d, goal, point, sla?.onBreach ?? []);
  }
  return { timerId, goalKey: goal.key, point };
}

/**
 * Runs escalations in template order, one journal entry each (actor `SLA_ACTOR`):
 * - notify: outbound `goal.at_risk` / `goal.breached` naming the role and/or queue to tell;
 * - setPriority: raises the case priority (never lowers it: a case already more urgent stays);
 * - reassign: the case moves to the queue and its owner is cleared; without a queue there is
 *   nowhere to move it, and the escalation is journaled as skipped. Open tasks keep their
 *   assignment, as with `case.reassign`;
 * - startFragment: opens the escalation fragment, assigned to the queue if given — unless an
 *   instance of it is still active (a breach after a warning that started it adds no second one).
 */
function escalate(d: Draft, goal: Goal, point: SlaPoint, escalations: Escalation[]): void {
  const sla = { goalKey: goal.key, point };
  for (const e of escalations) {
    switch (e.action) {
      case 'notify': {
        const target = { ...(e.role !== undefined ? { role: e.role } : {}), ...(e.queue !== undefined ? { queue: e.queue } : {}) };
        emit(d, OUTBOUND[point], { goalKey: goal.key, title: goal.title, deadlineAt: goal.deadlineAt ?? null, point, ...target });
        journalEntry(d, SLA_ACTOR, 'sla.notified', { ...sla, event: OUTBOUND[point], ...target });
        break;
      }
      case 'setPriority': {
        const from = d.case.priority;
        if (PRIORITIES.indexOf(e.priority) <= PRIORITIES.indexOf(from)) {
          journalEntry(d, SLA_ACTOR, 'sla.escalation_skipped', { ...sla, action: e.action, why: `priority is already ${from}` });
          break;
        }
        // The SLA raises the floor: the computed score cannot take the case below it (cases/priority.ts).
        const raised = setPriorityFloor(d, e.priority, 'raise');
        journalEntry(d, SLA_ACTOR, 'case.priority_changed', { ...sla, from, to: raised.to });
        if (raised.to !== from) emit(d, 'case.priority_changed', { from, to: raised.to, trigger: `sla:${goal.key}:${point}` });
        break;
      }
      case 'reassign': {
        if (e.queue === undefined) {
          journalEntry(d, SLA_ACTOR, 'sla.escalation_skipped', { ...sla, action: e.action, why: 'no queue to reassign to' });
          break;
        }
        const from = { ownerId: d.case.ownerId ?? null, queue: d.case.queue ?? null };
        d.case.queue = e.queue;
        delete d.case.ownerId;
        const to = { ownerId: null, queue: e.queue };
        journalEntry(d, SLA_ACTOR, 'case.reassigned', { ...sla, from, to, ...(e.role !== undefined ? { role: e.role } : {}) });
        emit(d, 'case.reassigned', to);
        break;
      }
      case 'startFragment': {
        if (d.case.fragments.some((f) => f.definition === e.fragment && f.status === 'active')) {
          journalEntry(d, SLA_ACTOR, 'sla.escalation_skipped', { ...sla, action: e.action, why: `${e.fragment} is already active` });
          break;
        }
        // A fragment whose first step would break the case file is not started; the point
        // itself (at risk, breached) and the other escalations still happen.
        const mark = checkpoint(d);
        const f = startFragment(d, {
          id: d.ctx.newId(),
          ref: e.fragment,
          compiled: compiledFor(d, e.fragment),
          source: 'escalation',
          ...(e.queue !== undefined ? { assignment: { queue: e.queue } } : {}),
        });
        const problems = caseFileProblems(d);
        if (problems.length > 0) {
          rollBack(d, mark);
          // The case object was replaced: read the goal from it from now on.
          const key = goal.key;
          goal = d.case.goals.find((g) => g.key === key) ?? goal;
          journalEntry(d, SLA_ACTOR, 'sla.escalation_skipped', {
            ...sla,
            action: e.action,
            definition: e.fragment,
            why: `starting ${e.fragment} would leave the case file invalid: ${describeCaseFileProblems(problems)}`,
            errors: problems,
          });
          break;
        }
        journalEntry(d, SLA_ACTOR, 'sla.fragment_started', { ...sla, fragmentId: f.id, definition: e.fragment });
        break;
      }
    }
  }
}

interface Checkpoint {
  case: CaseState;
  effects: number;
  journal: number;
  writes: number;
}

/** A copy to come back to; taken only before an escalation fragment starts (rare, small). */
export function checkpoint(d: Draft): Checkpoint {
  return { case: structuredClone(d.case), effects: d.effects.length, journal: d.journal.length, writes: d.caseFileWrites.length };
}

export function rollBack(d: Draft, mark: Checkpoint): void {
  d.case = mark.case;
  d.effects.length = mark.effects;
  d.journal.length = mark.journal;
  d.caseFileWrites.length = mark.writes;
}

function journalEntry(d: Draft, actor: Actor, type: string, data: Record<string, unknown>): void {
  const entry: JournalEntry = { type, actor, data, at: d.now };
  if (d.reason !== undefined) entry.reason = d.reason;
  d.journal.push(entry);
}
