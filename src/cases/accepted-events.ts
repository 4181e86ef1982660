import type { CustomerSnapshot } from '../customers/types.js';
import type { CompiledFragment } from '../fragments/runtime.js';
import type { FragmentRef } from '../fragments/types.js';
import { fragmentScope } from './scope.js';
import type { CaseState } from './types.js';

export interface AcceptedEventsView {
  /** Union over the active fragments, sorted. */
  all: string[];
  /** Fragment id -> events its current state accepts. */
  byFragment: Record<string, string[]>;
}

/**
 * Which events the case accepts now: what `event.send` would not refuse. Pure; guards are
 * evaluated against the case as it is (an event whose guard depends on its own data may
 * still be refused when sent).
 */
export function acceptedEvents(
  state: CaseState,
  compile: (ref: FragmentRef) => CompiledFragment | undefined,
  customer?: CustomerSnapshot,
): AcceptedEventsView {
  const byFragment: Record<string, string[]> = {};
  const all = new Set<string>();
  if (state.status !== 'open') return { all: [], byFragment };
  const scope = fragmentScope(state, undefined, customer);
  for (const f of state.fragments) {
    if (f.status !== 'active') continue;
    const compiled = compile(f.definition);
    const events = compiled ? compiled.acceptedEvents(f.snapshot, scope) : [];
    byFragment[f.id] = events;
    for (const e of events) all.add(e);
  }
  return { all: [...all].sort(), byFragment };
}
