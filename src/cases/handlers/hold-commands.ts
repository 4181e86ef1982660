import { DateTime } from 'luxon';
import { addWorkingMilliseconds, workingMillisecondsBetween } from '../business-calendar.js';
import { emit, journal, requireReason, type Draft } from '../draft.js';
import { calendarOfGoal } from '../goal-calendar.js';
import { reject } from '../rejection.js';
import { armSlaPoints, cancelSlaPoints } from '../sla.js';
import type { Command } from '../types.js';

type Hold = Extract<Command, { type: 'case.hold' }>;
type Resume = Extract<Command, { type: 'case.resume' }>;

/**
 * Puts an open case on hold (the template must be `pausable`; reason required): status
 * `on_hold`, `heldAt = now`, and the SLA points of open goals are cancelled, so no goal becomes
 * at risk or breached while the case waits. Fragment delays keep running: they belong to the
 * work itself (a reminder, a supplier's grace period), and fire on the held case as usual.
 * Tasks stay open but cannot be completed until the case is resumed.
 */
export function holdCase(d: Draft, command: Hold): Record<string, unknown> {
  if (d.ctx.template.pausable !== true) {
    reject('HOLD_NOT_ALLOWED', `Template ${d.ctx.template.key}@${d.ctx.template.version} does not allow holding cases; set "pausable: true" in a new template version.`);
  }
  const reason = requireReason(command.reason, 'Putting a case on hold');
  const paused: string[] = [];
  for (const goal of d.case.goals) {
    if (goal.status !== 'open' || (goal.warningTimerId === undefined && goal.deadlineTimerId === undefined)) continue;
    cancelSlaPoints(d, goal);
    paused.push(goal.key);
  }
  d.case.status = 'on_hold';
  d.case.heldAt = d.now;
  d.case.holdReason = reason;
  journal(d, 'case.held', { goalsPaused: paused });
  emit(d, 'case.held', { reason });
  return { status: 'on_hold', goalsPaused: paused };
}

/**
 * Resumes a held case: status `open`; every open goal with a deadline that was not breached
 * before the hold gets back the time it had left when the hold began, and its SLA points re-armed
 * (`armSlaPoints`). A breached goal keeps its deadline: the breach already happened.
 * - Under a business calendar (`calendarOfGoal`) that is *working* time: the working time left
 *   between the hold and the deadline, counted again from the resume. A deadline of Monday 16:00
 *   (9-17 hours) held from Friday 17:00 to Monday 09:00 had 7 working hours left: Monday 16:00
 *   again, not Thursday 08:00 (which moving it by the 64 hours held would give).
 * - Otherwise elapsed time: the deadline moves by the time held.
 * A deadline already passed when the hold began (its breach not yet fired) moves by the time held.
 */
export function resumeCase(d: Draft, _command: Resume): Record<string, unknown> {
  const heldAt = d.case.heldAt;
  if (d.case.status !== 'on_hold' || heldAt === undefined) {
    reject('CASE_NOT_ON_HOLD', `Case ${d.case.id} is ${d.case.status}, not on hold; there is nothing to resume.`, { status: d.case.status });
  }
  const heldMs = Math.max(0, d.ctx.now.getTime() - Date.parse(heldAt));
  d.case.status = 'open';
  d.case.heldMsTotal = (d.case.heldMsTotal ?? 0) + heldMs;
  delete d.case.heldAt;
  delete d.case.holdReason;
  const shifted: { goalKey: string; from: string; to: string }[] = [];
  for (const goal of d.case.goals) {
    if (goal.status !== 'open' || goal.deadlineAt === undefined || goal.sla === 'breached') continue;
    const from = goal.deadlineAt;
    const calendar = calendarOfGoal(d, goal);
    if (calendar !== undefined && Date.parse(from) > Date.parse(heldAt)) {
      const left = workingMillisecondsBetween(new Date(heldAt), new Date(from), calendar);
      goal.deadlineAt = addWorkingMilliseconds(d.ctx.now, left, calendar).toISOString();
    } else {
      goal.deadlineAt = DateTime.fromISO(from, { zone: 'utc' }).plus({ milliseconds: heldMs }).toJSDate().toISOString();
    }
    armSlaPoints(d, goal);
    shifted.push({ goalKey: goal.key, from, to: goal.deadlineAt });
  }
  journal(d, 'case.resumed', { heldSince: heldAt, heldMs, deadlinesMoved: shifted });
  emit(d, 'case.resumed', { heldMs, deadlines: shifted.map(({ goalKey, to }) => ({ goalKey, deadlineAt: to })) });
  return { status: 'open', heldMs, deadlinesMoved: shifted };
}
