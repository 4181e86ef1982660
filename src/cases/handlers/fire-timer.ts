import { applyStep } from '../apply-step.js';
import { compiledFor, journal, type Draft } from '../draft.js';
import { fragmentScope } from '../scope.js';
import { fireSlaPoint } from '../sla.js';
import { sendIdOf } from '../timers.js';
import type { Command } from '../types.js';

type Fire = Extract<Command, { type: 'timer.fire' }>;

/** `{ noop: true }` tells `decide` to answer with the case unchanged and nothing to write. */
export type FireOutcome = { noop: true; reason: string } | Record<string, unknown>;

/**
 * A due timer comes back. A fragment delay delivers its XState event to the fragment that
 * armed it; a goal's SLA point (warning, breach) runs its escalations (`sla.ts`). A timer that is no longer
 * pending (state left, cancelled, already fired) is a no-op: timers are hints, re-fires are safe.
 */
export function fireTimer(d: Draft, command: Fire): FireOutcome {
  const { timerId } = command;
  for (const f of d.case.fragments) {
    const sendId = sendIdOf(f, timerId);
    if (sendId === undefined) continue;
    const event = f.timerEvents?.[timerId];
    delete f.pendingTimers?.[sendId];
    delete f.timerEvents?.[timerId];
    if (f.status !== 'active' || event === undefined) return { noop: true, reason: 'fragment_not_active' };
    const compiled = compiledFor(d, f.definition);
    const step = compiled.send(f.snapshot, event, fragmentScope(d.case, { type: event.type }));
    if (!step) return { noop: true, reason: 'event_not_accepted' };
    journal(d, 'timer.fired', { timerId, kind: 'fragment_delay', fragmentId: f.id, event: event.type });
    applyStep(d, f, compiled, step);
    return { timerId, fragmentId: f.id };
  }
  return fireSlaPoint(d, timerId) ?? { noop: true, reason: 'timer_not_pending' };
}
