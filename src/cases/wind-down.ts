import { endFragment } from './apply-step.js';
import type { Draft } from './draft.js';
import { cancelSlaPoints } from './sla.js';

/**
 * A case leaving `open` (resolved, closed, cancelled) stops its work: active fragments are
 * cancelled with their tasks and timers, and goal SLA timers (warning, breach) are cancelled.
 * Returns what it stopped, for the journal.
 */
export function windDown(d: Draft): { fragmentsCancelled: string[]; tasksCancelled: string[] } {
  const fragmentsCancelled: string[] = [];
  const tasksCancelled: string[] = [];
  for (const f of d.case.fragments) {
    if (f.status !== 'active') continue;
    tasksCancelled.push(...endFragment(d, f).tasksCancelled);
    fragmentsCancelled.push(f.id);
  }
  for (const goal of d.case.goals) cancelSlaPoints(d, goal);
  return { fragmentsCancelled, tasksCancelled };
}
