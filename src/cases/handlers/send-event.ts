import { applyStep } from '../apply-step.js';
import { compiledFor, findActiveFragment, journal, type Draft } from '../draft.js';
import { reject } from '../rejection.js';
import { fragmentScope } from '../scope.js';
import { openTasksOf } from '../tasks.js';
import type { Command, FragmentInstance } from '../types.js';
import { applyCompletion, checkTaskOutput } from './task-commands.js';

type SendEvent = Extract<Command, { type: 'event.send' }>;

/**
 * Delivers an event to every active fragment that accepts it now (or to the one named), in
 * fragment order; each sees the case file as the previous one left it.
 *
 * Where the event is the `event` of an open task of a fragment it moves, it completes that task
 * exactly as `task.complete` would: `data` (default `{}`) must match the task's form, else the
 * whole command is refused with INVALID_TASK_OUTPUT; the task closes as completed by the actor
 * with `data` as its output (not cancelled as a left state).
 */
export function sendEvent(d: Draft, command: SendEvent): Record<string, unknown> {
  const event = command.event.data === undefined ? { type: command.event.type } : { type: command.event.type, data: command.event.data };
  const targets = command.fragmentId
    ? [findActiveFragment(d, command.fragmentId)]
    : d.case.fragments.filter((f) => f.status === 'active');
  const delivered: string[] = [];
  const entry = journal(d, 'event.received', { event: event.type, data: event.data ?? {}, fragmentIds: delivered });
  // Internal XState events (`xstate.after.*`, ...) come only from timers.
  if (!event.type.startsWith('xstate.')) {
    for (const f of targets) {
      if (f.status !== 'active') continue;
      const compiled = compiledFor(d, f.definition);
      const scope = fragmentScope(d.case, event, d.ctx.customer);
      if (!compiled.acceptedEvents(f.snapshot, scope).includes(event.type)) continue;
      // The event of an open task completes that task, as task.complete would: checked first.
      const completes = openTasksOf(d, f.id).filter((t) => t.event === event.type);
      const output = event.data ?? {};
      for (const task of completes) checkTaskOutput(d, task, output);
      const step = compiled.send(f.snapshot, event, scope);
      if (!step) continue;
      delivered.push(f.id);
      if (completes.length > 0) applyCompletion(d, completes, output, f, compiled, step);
      else applyStep(d, f, compiled, step);
    }
  }
  if (delivered.length === 0) {
    const accepted = acceptedEvents(d, targets);
    reject('EVENT_NOT_ACCEPTED', `No active fragment accepts "${event.type}" now; accepted: ${accepted.join(', ') || 'none'}.`, {
      accepted_events: accepted,
    });
  }
  entry.data['fragmentIds'] = delivered;
  return { delivered };
}

/** The union of event types the given fragments accept now, sorted. */
export function acceptedEvents(d: Draft, fragments: FragmentInstance[]): string[] {
  const scope = fragmentScope(d.case, undefined, d.ctx.customer);
  const all = new Set<string>();
  for (const f of fragments) {
    if (f.status !== 'active') continue;
    for (const type of compiledFor(d, f.definition).acceptedEvents(f.snapshot, scope)) all.add(type);
  }
  return [...all].sort();
}
