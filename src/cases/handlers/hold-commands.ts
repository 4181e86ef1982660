import { DateTime } from 'luxon';
import { emit, journal, requireReason, type Draft } from '../draft.js';
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
 * before the hold has its deadline moved by the time held, and its SLA points re-armed
 * (`armSlaPoints`). A breached goal keeps its deadline: the breach already happened.
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
    goal.deadlineAt = DateTime.fromISO(from, { zone: 'utc' }).plus({ milliseconds: heldMs }).toJSDate().toISOString();
    armSlaPoints(d, goal);
    shifted.push({ goalKey: goal.key, from, to: goal.deadlineAt });
  }
  journal(d, 'case.resumed', { heldSince: heldAt, heldMs, deadlinesMoved: shifted });
  emit(d, 'case.resumed', { heldMs, deadlines: shifted.map(({ goalKey, to }) => ({ goalKey, deadlineAt: to })) });
  return { status: 'open', heldMs, deadlinesMoved: shifted };
}
