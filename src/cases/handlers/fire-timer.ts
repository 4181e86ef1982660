import { applyStep } from '../apply-step.js';
import { compiledFor, journal, type Draft } from '../draft.js';
import { fragmentScope } from '../scope.js';
import { fireSlaPoint } from '../sla.js';
import { sendIdOf } from '../timers.js';
import type { Command, FragmentInstance } from '../types.js';
import { caseFileProblems, describeCaseFileProblems, type CaseFileProblem } from '../case-file-check.js';

type Fire = Extract<Command, { type: 'timer.fire' }>;

/** `{ noop: true }` tells `decide` to answer with the case unchanged and nothing to write. */
export type FireOutcome = { noop: true; reason: string } | Record<string, unknown>;

/**
 * A due timer comes back. A fragment delay delivers its XState event to the fragment that
 * armed it; a goal's SLA point (warning, breach) runs its escalations (`sla.ts`). A timer that is no longer
 * pending (state left, cancelled, already fired) is a no-op: timers are hints, re-fires are safe.
 *
 * A fragment delay whose transition would leave the case file invalid (its actions write what
 * the template schema refuses) cannot be applied now or ever — firing it again would decide
 * the same. It is spent without effect: the fragment stays where it was, nothing else changes,
 * and the case journals `timer.failed` with the problems (`result.failed`), so the timer
 * neither retries forever nor vanishes silently. An SLA point instead skips just the
 * escalation that would break the case file (see `sla.ts`).
 */
export function fireTimer(d: Draft, command: Fire): FireOutcome {
  const { timerId } = command;
  for (const f of d.case.fragments) {
    const sendId = sendIdOf(f, timerId);
    if (sendId === undefined) continue;
    const event = f.timerEvents?.[timerId];
    spend(f, sendId, timerId);
    if (f.status !== 'active' || event === undefined) return { noop: true, reason: 'fragment_not_active' };
    const compiled = compiledFor(d, f.definition);
    const step = compiled.send(f.snapshot, event, fragmentScope(d.case, { type: event.type }, d.ctx.customer));
    if (!step) return { noop: true, reason: 'event_not_accepted' };
    journal(d, 'timer.fired', { timerId, kind: 'fragment_delay', fragmentId: f.id, event: event.type });
    applyStep(d, f, compiled, step);
    const problems = caseFileProblems(d);
    if (problems.length > 0) return failTimer(d, { timerId, fragmentId: f.id, sendId, event: event.type }, problems);
    return { timerId, fragmentId: f.id };
  }
  return fireSlaPoint(d, timerId) ?? { noop: true, reason: 'timer_not_pending' };
}

function spend(f: FragmentInstance, sendId: string, timerId: string): void {
  delete f.pendingTimers?.[sendId];
  delete f.timerEvents?.[timerId];
}

/**
 * Starts the decision over from the case as it came in (the handler is the whole command, so
 * nothing else is lost), spends the timer and records why it did nothing.
 */
function failTimer(
  d: Draft,
  timer: { timerId: string; fragmentId: string; sendId: string; event: string },
  problems: CaseFileProblem[],
): FireOutcome {
  if (d.before === undefined) throw new Error('fireTimer: a timer needs an existing case');
  d.case = structuredClone(d.before);
  d.effects.length = 0;
  d.journal.length = 0;
  d.caseFileWrites.length = 0;
  const f = d.case.fragments.find((x) => x.id === timer.fragmentId);
  if (f) spend(f, timer.sendId, timer.timerId);
  journal(d, 'timer.failed', {
    timerId: timer.timerId,
    kind: 'fragment_delay',
    fragmentId: timer.fragmentId,
    event: timer.event,
    code: 'CASE_FILE_WRITE_INVALID',
    detail: `The transition would leave the case file invalid: ${describeCaseFileProblems(problems)}. The timer is spent; the fragment stays where it was.`,
    errors: problems,
  });
  return { timerId: timer.timerId, fragmentId: timer.fragmentId, failed: 'CASE_FILE_WRITE_INVALID' };
}
