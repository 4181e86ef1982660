/**
 * Template vs actual: how one case departed from its template version, found by replaying its
 * journal (cases/replay.ts) through the pinned definitions and shadowing every fragment the
 * template planned with the machine the template names.
 *
 * Deviations, by kind:
 * - `insertion`: a fragment added that the template's planning table does not offer (a library
 *   fragment outside `discretionaryFragments`, an inline definition, a checklist);
 * - `jump`, `migration`: a planned fragment moved by hand, or moved to another definition;
 * - `log_move`: an event delivered to a planned fragment that the template's machine, following
 *   the case from where it last agreed with it, would not have accepted (only possible after a
 *   jump or a migration: until then the live machine is the template's);
 * - `default_cancelled`, `default_unfinished`: a default fragment cancelled, or not done when the
 *   case ended (resolution winds down what still runs);
 * - `goal_late`, `goal_missed`: a goal achieved after its deadline; a required goal not achieved
 *   when the case ended, or breached.
 *
 * Fitness (token replay, after Rozinat & van der Aalst):
 *   fitness = ½ (1 − missing / consumed) + ½ (1 − remaining / produced)
 * where every planned fragment start produces a token and every event it takes consumes one and
 * produces the next; an insertion, a jump, a migration and a log move each consume a token that
 * was missing; a default fragment that did not finish leaves its token remaining. A term whose
 * denominator is 0 counts 1. Goals do not enter the fitness (they are a service measure, reported
 * beside it). 1 is a case that ran as the template says; 0.5 is one whose every step was improvised.
 */
import type { CompiledFragment } from '../fragments/runtime.js';
import type { FragmentRef } from '../fragments/types.js';
import type { CaseTemplate } from '../templates/types.js';
import type { Engine } from './engine.js';
import { replay, type ReplayResolver, type ReplayStep, type ReplayedStep } from './replay.js';
import { fragmentScope } from './scope.js';
import type { CaseState, Command } from './types.js';

export const DEVIATION_KINDS = [
  'insertion',
  'jump',
  'migration',
  'log_move',
  'default_cancelled',
  'default_unfinished',
  'goal_late',
  'goal_missed',
] as const;
export type DeviationKind = (typeof DEVIATION_KINDS)[number];

export interface Deviation {
  kind: DeviationKind;
  /** The version that made it (the last version for `default_unfinished` / `goal_missed`). */
  version: number;
  at: string;
  fragment_id?: string;
  definition?: string;
  goal_key?: string;
  event?: string;
  detail: string;
}

export interface CaseConformance {
  case_id: string;
  template: { key: string; version: number };
  status: CaseState['status'];
  version: number;
  opened_at: string;
  fitness: number;
  tokens: { produced: number; consumed: number; missing: number; remaining: number };
  deviations: Deviation[];
  /** False when the journal could not be replayed to the last version (see `diverged`). */
  complete: boolean;
  diverged: { version: number; reason: string } | null;
}

/** A planned fragment followed by the template's own machine. */
interface Shadow {
  ref: FragmentRef;
  compiled: CompiledFragment;
  snapshot: unknown;
  /** The live fragment still runs the template's machine from the same state (no jump or migration yet). */
  inSync: boolean;
  isDefault: boolean;
}

const keyOf = (ref: string) => ref.slice(0, ref.lastIndexOf('@'));
const ENDED: ReadonlySet<CaseState['status']> = new Set(['resolved', 'closed', 'cancelled']);

/** What the template plans: default and discretionary fragments, and those its escalations and sentries start. */
function plannedRefs(t: CaseTemplate): FragmentRef[] {
  const escalations = [...(t.slas ?? []).flatMap((s) => [...(s.onWarning ?? []), ...(s.onBreach ?? [])]), ...(t.escalations ?? []).flatMap((e) => e.actions)];
  return [...t.defaultFragments, ...t.discretionaryFragments, ...escalations.flatMap((e) => (e.action === 'startFragment' ? [e.fragment] : []))];
}

/** The events a step delivered to fragments: `[fragmentId, event]`. */
function deliveredEvents(s: ReplayedStep): [string, { type: string; data?: Record<string, unknown> }][] {
  if (s.step.kind !== 'command' || !s.before) return [];
  const command: Command = s.step.record.command;
  if (command.type === 'event.send') {
    const received = s.decision?.journal.find((e) => e.type === 'event.received');
    const ids = (received?.data['fragmentIds'] as string[] | undefined) ?? [];
    return ids.map((id) => [id, { type: command.event.type, ...(command.event.data ? { data: command.event.data } : {}) }]);
  }
  if (command.type === 'task.complete') {
    const task = s.before.tasks.find((t) => t.id === command.taskId);
    return task ? [[task.fragmentId, { type: task.event, data: command.output }]] : [];
  }
  if (command.type === 'timer.fire') {
    for (const f of s.before.fragments) {
      const event = f.timerEvents?.[command.timerId];
      if (event) return [[f.id, event]];
    }
  }
  return [];
}

/**
 * Replays `steps` and measures the case against `template` (see the file comment). `compile`
 * compiles a definition (share the engine's cache).
 */
export function measureConformance(
  engine: Engine,
  steps: readonly ReplayStep[],
  resolver: ReplayResolver,
  compile: (ref: FragmentRef) => CompiledFragment | undefined,
): CaseConformance | undefined {
  const deviations: Deviation[] = [];
  const tokens = { produced: 0, consumed: 0, missing: 0, remaining: 0 };
  const shadows = new Map<string, Shadow>();
  let template: CaseTemplate | undefined;
  const planned = (key: string) => (template ? plannedRefs(template) : []).find((r) => keyOf(r) === key);
  const deviate = (d: Deviation, missing = true) => {
    deviations.push(d);
    if (missing) {
      tokens.missing++;
      tokens.consumed++;
    }
  };

  const result = replay(engine, steps, resolver, {
    onStep: (s) => {
      if (s.step.kind !== 'command') return;
      const version = s.step.version;
      const at = s.step.record.at;
      template ??= resolver.template(s.step.record.template.key, s.step.record.template.version);
      const command = s.step.record.command;
      const before = s.before;
      const after = s.after;
      // Fragments that appeared in this step: planned (default at open, offered, SLA/sentry-started) or inserted.
      for (const f of after.fragments) {
        if (before?.fragments.some((b) => b.id === f.id) || shadows.has(f.id)) continue;
        const ref = planned(keyOf(f.definition));
        // Started by the engine (at open, or later by its startWhen sentry), not added by hand.
        const isDefault = command.type !== 'fragment.add' && (template?.defaultFragments ?? []).includes(f.definition);
        // Added by hand, only a library fragment can be the planned one; the engine itself starts only planned ones.
        const offered = ref !== undefined && (command.type !== 'fragment.add' || command.source.kind === 'library');
        const compiled = ref && offered ? compile(ref) : undefined;
        if (compiled && ref) {
          const snapshot = ref === f.definition ? f.snapshot : compiled.start(fragmentScope(after)).snapshot;
          shadows.set(f.id, { ref, compiled, snapshot, inSync: ref === f.definition, isDefault });
          tokens.produced++;
        } else {
          deviate({ kind: 'insertion', version, at, fragment_id: f.id, definition: f.definition, detail: `${f.definition} is not on the template's planning table` });
        }
      }
      if (command.type === 'fragment.jump' && shadows.has(command.fragmentId)) {
        shadows.get(command.fragmentId)!.inSync = false;
        deviate({ kind: 'jump', version, at, fragment_id: command.fragmentId, detail: `jumped to ${command.state}: ${command.reason}` });
      }
      if (command.type === 'fragment.migrate' && shadows.has(command.fragmentId)) {
        shadows.get(command.fragmentId)!.inSync = false;
        deviate({ kind: 'migration', version, at, fragment_id: command.fragmentId, definition: command.to, detail: `migrated to ${command.to}: ${command.reason}` });
      }
      if (command.type === 'fragment.cancel') {
        const shadow = shadows.get(command.fragmentId);
        if (shadow?.isDefault) {
          deviate({ kind: 'default_cancelled', version, at, fragment_id: command.fragmentId, definition: shadow.ref, detail: command.reason }, false);
        }
      }
      for (const [fragmentId, event] of deliveredEvents(s)) {
        const shadow = shadows.get(fragmentId);
        if (!shadow) continue;
        tokens.consumed++;
        if (shadow.inSync) {
          tokens.produced++;
          continue;
        }
        const step = shadow.compiled.send(shadow.snapshot, event, fragmentScope(after, event));
        if (step) {
          shadow.snapshot = step.snapshot;
          tokens.produced++;
        } else {
          tokens.missing++;
          deviations.push({ kind: 'log_move', version, at, fragment_id: fragmentId, definition: shadow.ref, event: event.type, detail: `${shadow.ref} would not accept ${event.type} where the template's machine stood` });
        }
      }
      // Keep in-sync shadows on the live snapshot (timers and always-transitions included).
      for (const [id, shadow] of shadows) {
        const live = after.fragments.find((f) => f.id === id);
        if (shadow.inSync && live) shadow.snapshot = live.snapshot;
      }
    },
  });
  const c = result.state;
  if (!c) return undefined;
  const last = { version: c.version, at: c.updatedAt };
  for (const [id, shadow] of shadows) {
    const f = c.fragments.find((x) => x.id === id);
    if (!shadow.isDefault || !f || f.status === 'done') continue;
    if (deviations.some((d) => d.kind === 'default_cancelled' && d.fragment_id === id)) {
      tokens.remaining++;
    } else if (ENDED.has(c.status)) {
      // An open case's running default fragment is not unfinished yet.
      tokens.remaining++;
      deviations.push({ kind: 'default_unfinished', ...last, fragment_id: id, definition: shadow.ref, detail: `${shadow.ref} was ${f.status === 'active' ? 'still running' : f.status} when the case ended` });
    }
  }
  for (const g of c.goals) {
    if (g.achievedLate) deviations.push({ kind: 'goal_late', version: last.version, at: g.achievedAt ?? last.at, goal_key: g.key, detail: `achieved at ${g.achievedAt} after the deadline ${g.deadlineAt}` });
    else if (g.required && g.status !== 'achieved' && (ENDED.has(c.status) || g.sla === 'breached')) {
      deviations.push({ kind: 'goal_missed', ...last, goal_key: g.key, detail: g.sla === 'breached' ? `breached its deadline ${g.deadlineAt}` : `not achieved when the case ended (${c.status})` });
    }
  }
  const term = (num: number, den: number) => (den === 0 ? 1 : 1 - num / den);
  const fitness = Math.round((0.5 * term(tokens.missing, tokens.consumed) + 0.5 * term(tokens.remaining, tokens.produced)) * 10_000) / 10_000;
  deviations.sort((a, b) => a.version - b.version);
  return {
    case_id: c.id,
    template: c.template,
    status: c.status,
    version: c.version,
    opened_at: c.openedAt,
    fitness,
    tokens,
    deviations,
    complete: result.complete,
    diverged: result.diverged ?? null,
  };
}
