import type { Scope } from '../fragments/runtime.js';
import { refKey } from './draft.js';
import type { CustomerSnapshot } from '../customers/types.js';
import type { CaseState, FragmentInstance } from './types.js';

/** What fragment guards see: everything goal conditions see (`goalScope`), plus the event. */
export function fragmentScope(
  c: CaseState,
  event?: { type: string; data?: Record<string, unknown> },
  customer?: CustomerSnapshot,
): Scope {
  const scope = goalScope(c, customer);
  if (event) scope.event = event;
  return scope;
}

export interface FragmentSummary {
  id: string;
  status: string;
  /** Active atomic state paths, e.g. `['review.drafting']`. */
  states: string[];
}

/**
 * What goal conditions (CEL) see:
 * - `caseFile`, `milestones` (key -> ISO time), `case` (id, status, priority, ownerId, queue)
 * - `customer`: the case's customer (customers/snapshot.ts), when it has one
 * - `fragments`: definition key -> { id, status, states } (the latest instance that is not
 *   cancelled, else the latest); e.g. `fragments['verify-identity'].status == 'done'`,
 *   `'review.approved' in fragments.refund.states`.
 */
export function goalScope(c: CaseState, customer?: CustomerSnapshot): Scope {
  const fragments: Record<string, FragmentSummary> = {};
  for (const f of c.fragments) {
    const key = refKey(f.definition);
    const previous = fragments[key];
    if (previous && previous.status !== 'cancelled' && f.status === 'cancelled') continue;
    fragments[key] = summarise(f);
  }
  const scope: Scope = { caseFile: c.caseFile, milestones: c.milestones, case: caseSummary(c), fragments };
  // Only the customer the case references: a snapshot loaded for another customer is not this case's.
  if (customer && c.customer?.id === customer.id) scope.customer = customer as unknown as Record<string, unknown>;
  return scope;
}

function summarise(f: FragmentInstance): FragmentSummary {
  return { id: f.id, status: f.status, states: [...(f.activeStates ?? [])] };
}

function caseSummary(c: CaseState): Scope['case'] {
  const summary: Scope['case'] = { id: c.id, status: c.status, priority: c.priority };
  if (c.ownerId !== undefined) summary.ownerId = c.ownerId;
  if (c.queue !== undefined) summary.queue = c.queue;
  return summary;
}
