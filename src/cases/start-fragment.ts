import type { CompiledFragment } from '../fragments/runtime.js';
import type { FragmentRef } from '../fragments/types.js';
import { applyStep } from './apply-step.js';
import { journal, type Draft } from './draft.js';
import { fragmentScope } from './scope.js';
import type { Assignment, FragmentInstance } from './types.js';

export interface StartOptions {
  id: string;
  ref: FragmentRef;
  compiled: CompiledFragment;
  title?: string;
  assignment?: Assignment;
  /** How it came in: `default` (template), `library`, `inline`, `checklist`. */
  source: string;
}

/** Adds a fragment instance to the case and runs its initial step. */
export function startFragment(d: Draft, options: StartOptions): FragmentInstance {
  const f: FragmentInstance = {
    id: options.id,
    definition: options.ref,
    title: options.title ?? options.compiled.definition.title,
    status: 'active',
    snapshot: null,
    startedAt: d.now,
    activeStates: [],
    pendingTimers: {},
    timerEvents: {},
  };
  if (options.assignment) f.assignment = { ...options.assignment };
  d.case.fragments.push(f);
  journal(d, 'fragment.added', {
    fragmentId: f.id,
    definition: f.definition,
    title: f.title,
    source: options.source,
    ...(f.assignment ? { assignment: f.assignment } : {}),
  });
  applyStep(d, f, options.compiled, options.compiled.start(fragmentScope(d.case, undefined, d.ctx.customer)));
  return f;
}
