/**
 * Sentries (CMMN entry and exit criteria) of the template's fragments, evaluated inside the
 * decision after every change, before the goals: in declaration order, pass after pass until a
 * pass changes nothing, so a start that sets a milestone can fire the next sentry in the same
 * command — and replay (cases/replay.ts) gives the same result, since it is the same code on the
 * same case.
 *
 * - `startWhen`: starts the fragment when the condition holds and the case has no instance of it
 *   yet (a sentry starts a fragment once per case; one an agent added already counts).
 * - `exitWhen`: ends every active instance of the fragment when the condition holds (cancelled,
 *   with its open tasks and pending timers), journaled `fragment.exited`.
 * A condition that cannot be evaluated yet (a field not there) does not hold. Loops are refused
 * when the template loads (templates/check-sentries.ts); each fragment starts at most once, so the
 * passes end anyway.
 */
import { endFragment } from './apply-step.js';
import { compiledFor, emit, journal, refKey, type Draft } from './draft.js';
import { conditionHolds } from './goals.js';
import { goalScope } from './scope.js';
import { startFragment } from './start-fragment.js';

export function runSentries(d: Draft): void {
  const sentries = d.ctx.template.sentries ?? [];
  if (sentries.length === 0) return;
  // Every pass that changes something starts or ends at least one fragment; each starts once.
  for (let pass = 0; pass <= 2 * sentries.length; pass++) {
    let changed = false;
    for (const [i, s] of sentries.entries()) {
      if (d.case.status !== 'open') return;
      const key = refKey(s.fragment);
      if (s.startWhen !== undefined && !d.case.fragments.some((f) => refKey(f.definition) === key)) {
        if (conditionHolds(d, s.startWhen, goalScope(d.case, d.ctx.customer))) {
          const f = startFragment(d, { id: d.ctx.newId(), ref: s.fragment, compiled: compiledFor(d, s.fragment), source: 'sentry' });
          journal(d, 'sentry.started', { fragmentId: f.id, definition: s.fragment, sentry: i, startWhen: s.startWhen });
          changed = true;
        }
      }
      if (s.exitWhen !== undefined) {
        for (const f of d.case.fragments) {
          if (f.status !== 'active' || refKey(f.definition) !== key) continue;
          if (!conditionHolds(d, s.exitWhen, goalScope(d.case, d.ctx.customer))) continue;
          const states = [...(f.activeStates ?? [])];
          const { tasksCancelled } = endFragment(d, f);
          journal(d, 'fragment.exited', { fragmentId: f.id, definition: f.definition, states, tasksCancelled, sentry: i, exitWhen: s.exitWhen });
          emit(d, 'fragment.cancelled', { fragmentId: f.id, definition: f.definition, exitWhen: s.exitWhen });
          changed = true;
        }
      }
    }
    if (!changed) return;
  }
}

/** Default fragments that wait for their `startWhen` instead of starting at open. */
export function startsBySentry(d: Draft, ref: string): boolean {
  return (d.ctx.template.sentries ?? []).some((s) => s.fragment === ref && s.startWhen !== undefined);
}
