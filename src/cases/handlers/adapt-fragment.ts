import { applyStep, endFragment } from '../apply-step.js';
import { compiledFor, emit, findActiveFragment, journal, requireReason, type Draft } from '../draft.js';
import { reject } from '../rejection.js';
import { fragmentScope } from '../scope.js';
import { defaultAssignment, openTasksOf } from '../tasks.js';
import type { Assignment, Command } from '../types.js';
import { checkAssignment } from './case-commands.js';

type Jump = Extract<Command, { type: 'fragment.jump' }>;
type Cancel = Extract<Command, { type: 'fragment.cancel' }>;
type Reassign = Extract<Command, { type: 'fragment.reassign' }>;

/** Moves an active fragment to a state (entering it: entry actions, delays, tasks). */
export function jumpFragment(d: Draft, command: Jump): Record<string, unknown> {
  requireReason(command.reason, 'Jumping a fragment');
  const f = findActiveFragment(d, command.fragmentId);
  const compiled = compiledFor(d, f.definition);
  if (!compiled.statePaths.includes(command.state)) {
    reject('STATE_NOT_FOUND', `Fragment ${f.definition} has no state "${command.state}".`, {
      state: command.state,
      definition: f.definition,
      states: [...compiled.statePaths],
    });
  }
  const from = [...(f.activeStates ?? [])];
  journal(d, 'fragment.jumped', { fragmentId: f.id, from, to: command.state });
  applyStep(d, f, compiled, compiled.jumpTo(f.snapshot, command.state, fragmentScope(d.case, undefined, d.ctx.customer)), true);
  return { fragmentId: f.id, from, to: f.activeStates ?? [] };
}

/** Stops an active fragment: its open tasks and pending timers are cancelled. */
export function cancelFragment(d: Draft, command: Cancel): Record<string, unknown> {
  requireReason(command.reason, 'Cancelling a fragment');
  const f = findActiveFragment(d, command.fragmentId);
  const states = [...(f.activeStates ?? [])];
  const { tasksCancelled } = endFragment(d, f);
  journal(d, 'fragment.cancelled', { fragmentId: f.id, states, tasksCancelled });
  emit(d, 'fragment.cancelled', { fragmentId: f.id, definition: f.definition });
  return { fragmentId: f.id, tasksCancelled };
}

/**
 * Gives a fragment to a person or a queue. Its open tasks follow (unclaimed again); tasks it
 * opens later go there too.
 */
export function reassignFragment(d: Draft, command: Reassign): Record<string, unknown> {
  const assignment: Assignment = checkAssignment(command.assignment);
  const f = findActiveFragment(d, command.fragmentId);
  const from = f.assignment;
  f.assignment = assignment;
  const moved: string[] = [];
  for (const task of openTasksOf(d, f.id)) {
    task.assignment = defaultAssignment(d, f, undefined);
    delete task.claimedBy;
    d.effects.push({ type: 'task.upsert', task: structuredClone(task) });
    emit(d, 'task.assigned', { taskId: task.id, fragmentId: f.id, title: task.title, assignment: task.assignment });
    moved.push(task.id);
  }
  journal(d, 'fragment.reassigned', { fragmentId: f.id, from: from ?? null, to: assignment, tasks: moved });
  return { fragmentId: f.id, tasks: moved };
}
