/**
 * Priority commands: recompute the score (the customer's metrics changed), and a supervisor's
 * override, which holds until it is lifted (see cases/priority.ts for how the effective priority
 * is made).
 */
import { journal, requireReason, type Draft } from '../draft.js';
import { effectiveOf, priorityBefore, recomputePriority, settlePriority } from '../priority.js';
import { reject } from '../rejection.js';
import { PRIORITIES, type Command } from '../types.js';

type Override = Extract<Command, { type: 'priority.override' }>;
type Release = Extract<Command, { type: 'priority.release' }>;

/** A no-op (nothing written) when neither the score nor the priority changes. */
export function recomputeCasePriority(d: Draft): Record<string, unknown> {
  const changed = recomputePriority(d, 'priority.recompute');
  if (!changed) return { noop: true, reason: 'priority_unchanged' };
  return { priority: d.case.priority, score: d.case.priorityInfo!.score };
}

export function overridePriority(d: Draft, command: Override): Record<string, unknown> {
  if (d.ctx.actor.role !== 'supervisor' && d.ctx.actor.role !== 'admin') {
    reject('FORBIDDEN', 'Only a supervisor or an admin may override the priority.');
  }
  if (!(PRIORITIES as readonly string[]).includes(command.priority)) {
    reject('VALIDATION_FAILED', `priority must be one of ${PRIORITIES.join(', ')}.`);
  }
  const reason = requireReason(command.reason, 'Overriding the priority');
  const before = priorityBefore(d);
  // Score it afresh first, so the factors shown next to the override are current.
  recomputePriority(d, 'priority.override', { quiet: true });
  const info = d.case.priorityInfo!;
  const previous = info.override;
  info.override = { priority: command.priority, by: d.ctx.actor.id, reason, at: d.now };
  journal(d, 'priority.overridden', { priority: command.priority, previous: previous ?? null, computed: info.computed, score: info.score });
  settlePriority(d, 'priority.override', before);
  return { priority: effectiveOf(info) };
}

export function releasePriority(d: Draft, _command: Release): Record<string, unknown> {
  const info = d.case.priorityInfo;
  if (!info?.override) reject('PRIORITY_NOT_OVERRIDDEN', `Case ${d.case.id} has no priority override to lift; nothing to do.`);
  const before = priorityBefore(d);
  recomputePriority(d, 'priority.release', { quiet: true });
  const lifted = info.override;
  delete d.case.priorityInfo!.override;
  journal(d, 'priority.override_lifted', { lifted, computed: d.case.priorityInfo!.computed, score: d.case.priorityInfo!.score });
  settlePriority(d, 'priority.release', before);
  return { priority: d.case.priority };
}
