/**
 * The case as a fold of its journal: `replay(engine, steps, ...)` decides every recorded command
 * again, in version order, through the same engine with the same inputs (time, actor, ids,
 * customer, pinned template and definitions), so version N of the replay is version N of the case.
 * Pure: no I/O, no clock; the caller loads the steps (history/journal-steps.ts).
 *
 * Two kinds of step: a command record (cases/command-record.ts), and a journal-only change that no
 * command made — a customer merge moves the case to the surviving customer
 * (persistence/customer-store.ts `moveCustomerRows`), journaled `customer.merged`.
 *
 * Tolerant of erased data: an erasure masks personal values in the records; replay runs on the
 * masked values. A step the engine now refuses (a masked value that no longer satisfies a schema,
 * say) ends the fold there: the result says `complete: false` and which version diverged, and
 * keeps the last version it could rebuild.
 */
import type { FragmentDefinition, FragmentRef } from '../fragments/types.js';
import type { CaseTemplate } from '../templates/types.js';
import type { CommandRecord } from './command-record.js';
import type { Engine } from './engine.js';
import type { CaseState, Decision, JournalEntry } from './types.js';

export type ReplayStep =
  | { version: number; kind: 'command'; record: CommandRecord }
  | { version: number; kind: 'journal'; entry: JournalEntry };

export interface ReplayResolver {
  template(key: string, version: number): CaseTemplate | undefined;
  fragment(ref: FragmentRef): FragmentDefinition | undefined;
}

/** What one replayed step did: the case before and after, and the decision (command steps). */
export interface ReplayedStep {
  step: ReplayStep;
  before: CaseState | undefined;
  after: CaseState;
  decision?: Extract<Decision, { ok: true }>;
}

export interface ReplayResult {
  /** The case at the last version rebuilt; undefined when not even the open could be. */
  state: CaseState | undefined;
  complete: boolean;
  /** The first version that could not be rebuilt, and why. */
  diverged?: { version: number; reason: string };
}

/**
 * Folds `steps` (sorted by version, starting at 1) up to `untilVersion` (inclusive; default all).
 * `onStep` sees every step as it is replayed (conformance reads the decisions).
 */
export function replay(
  engine: Engine,
  steps: readonly ReplayStep[],
  resolver: ReplayResolver,
  options: { untilVersion?: number; onStep?: (s: ReplayedStep) => void } = {},
): ReplayResult {
  // Inline and checklist definitions are authored by the commands themselves: keep what they store.
  const authored = new Map<FragmentRef, FragmentDefinition>();
  const definitions = (ref: FragmentRef) => authored.get(ref) ?? resolver.fragment(ref);
  let state: CaseState | undefined;
  for (const step of steps) {
    if (options.untilVersion !== undefined && step.version > options.untilVersion) break;
    const expected = (state?.version ?? 0) + 1;
    if (step.version !== expected) {
      return { state, complete: false, diverged: { version: expected, reason: `the journal has no record of version ${expected}` } };
    }
    if (step.kind === 'journal') {
      const after = applyJournalStep(state, step);
      if (!after) return { state, complete: false, diverged: { version: step.version, reason: `journal entry ${step.entry.type} cannot be applied` } };
      options.onStep?.({ step, before: state, after });
      state = after;
      continue;
    }
    const r = step.record;
    const template = resolver.template(r.template.key, r.template.version);
    if (!template) return { state, complete: false, diverged: { version: step.version, reason: `template ${r.template.key}@${r.template.version} is not in the catalog` } };
    let n = 0;
    let decision: Decision;
    try {
      decision = engine.decide(state, r.command, {
        now: new Date(r.at),
        actor: r.actor,
        // The ids the live decision drew, in order; one more than were drawn means the engine now
        // decides differently, and the result will not match (reported below as a divergence).
        newId: () => r.ids[n++] ?? `replay-${step.version}-${n}`,
        template,
        definitions,
        ...(r.customer !== undefined ? { customer: r.customer } : {}),
        ...(r.customerValue !== undefined ? { customerValue: r.customerValue } : {}),
      });
    } catch (err) {
      return { state, complete: false, diverged: { version: step.version, reason: err instanceof Error ? err.message : String(err) } };
    }
    if (!decision.ok) return { state, complete: false, diverged: { version: step.version, reason: `${decision.error.code}: ${decision.error.message}` } };
    if (decision.case === state || decision.case.version !== step.version) {
      return { state, complete: false, diverged: { version: step.version, reason: 'the command changed nothing on replay' } };
    }
    for (const e of decision.effects) if (e.type === 'definition.store') authored.set(`${e.definition.key}@${e.definition.version}`, e.definition);
    options.onStep?.({ step, before: state, after: decision.case, decision });
    state = decision.case;
  }
  return { state, complete: true };
}

/** A change no command made, applied as its journal entry says (see the file comment). */
function applyJournalStep(state: CaseState | undefined, step: Extract<ReplayStep, { kind: 'journal' }>): CaseState | undefined {
  if (!state) return undefined;
  const { entry } = step;
  if (entry.type === 'customer.merged' && typeof entry.data['into'] === 'string') {
    return { ...state, customer: { ...(state.customer ?? {}), id: entry.data['into'] }, version: step.version, updatedAt: entry.at };
  }
  return undefined;
}
