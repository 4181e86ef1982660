import { compiledFor, createDraft, type EngineInternals } from './draft.js';
import { TesseraError, type ErrorCode } from '../errors.js';
import { Rejection } from './rejection.js';
import { fragmentScope } from './scope.js';
import type { CaseState, DecideContext } from './types.js';

/**
 * Event types each active fragment accepts now (guards that read the event count as passing),
 * keyed by fragment id — for `GET /v1/cases/:id`. Pure; never changes the case.
 */
export function acceptedEventsByFragment(
  engine: EngineInternals,
  state: CaseState,
  ctx: Pick<DecideContext, 'template' | 'definitions'>,
): Record<string, string[]> {
  const readContext: DecideContext = {
    ...ctx,
    now: new Date(state.updatedAt),
    actor: { id: 'system', role: 'system' },
    newId: () => {
      throw new Error('acceptedEventsByFragment does not create ids');
    },
  };
  const d = createDraft(state, readContext, engine, undefined);
  const out: Record<string, string[]> = {};
  if (state.status !== 'open') return out;
  try {
    for (const f of state.fragments) {
      if (f.status !== 'active') continue;
      out[f.id] = [...compiledFor(d, f.definition).acceptedEvents(f.snapshot, fragmentScope(state))].sort();
    }
  } catch (err) {
    // Reads have no Decision to carry a refusal: surface it as the shared error type.
    if (err instanceof Rejection) throw new TesseraError(err.error.code as ErrorCode, err.error.message, err.error.details);
    throw err;
  }
  return out;
}
