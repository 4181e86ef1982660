import { applyStep } from '../apply-step.js';
import { compiledFor, findActiveFragment, journal, requireReason, type Draft } from '../draft.js';
import { reject } from '../rejection.js';
import { fragmentScope } from '../scope.js';
import { cancelAllFragmentTimers } from '../timers.js';
import type { Command, Effect } from '../types.js';

type Migrate = Extract<Command, { type: 'fragment.migrate' }>;

/**
 * Moves a running fragment onto another definition version.
 *
 * Each active state path is mapped through `stateMapping` (an entry for the state itself or
 * for one of its ancestors, the most specific wins); an unmapped state keeps its path. Every
 * mapping target and every resulting path must exist in the new version, else STATE_NOT_FOUND
 * and nothing changes.
 *
 * The new snapshot is built by entering the target states in the new version (`jumpTo`), so
 * their entry actions run and their delays are armed afresh; all timers of the old snapshot
 * are cancelled. Open tasks whose state is still a task state in the new version stay open
 * (same id); others are cancelled; new task states open tasks. The XState machine context of
 * the old snapshot is not carried over (case data lives in the case file).
 *
 * The result describes the change; `decide` returns it alone, with the case unchanged, on `dryRun`.
 */
export function migrateFragment(d: Draft, command: Migrate): Record<string, unknown> {
  requireReason(command.reason, 'Migrating a fragment');
  const f = findActiveFragment(d, command.fragmentId);
  const target = compiledFor(d, command.to);
  const paths = new Set(target.statePaths);
  for (const [from, to] of Object.entries(command.stateMapping)) {
    if (!paths.has(to)) {
      reject('STATE_NOT_FOUND', `The mapping "${from}" -> "${to}" targets a state that ${command.to} does not have.`, {
        state: to,
        definition: command.to,
        states: [...target.statePaths],
      });
    }
  }
  const fromStates = [...(f.activeStates ?? [])];
  const targets = [...new Set(fromStates.map((s) => mapState(s, command.stateMapping)))];
  for (const state of targets) {
    if (!paths.has(state)) {
      reject('STATE_NOT_FOUND', `Active state "${state}" does not exist in ${command.to}; add it to state_mapping.`, {
        state,
        definition: command.to,
        states: [...target.statePaths],
      });
    }
  }

  const fromRef = f.definition;
  const firstEffect = d.effects.length;
  const entry = journal(d, 'fragment.migrated', {
    fragmentId: f.id,
    from: fromRef,
    to: command.to,
    stateMapping: command.stateMapping,
    fromStates,
  });
  cancelAllFragmentTimers(d, f);
  f.definition = command.to;
  f.title = target.definition.title;
  if (targets.length === 0) {
    applyStep(d, f, target, target.start(fragmentScope(d.case, undefined, d.ctx.customer)), true);
  }
  let snapshot: unknown = undefined;
  for (const state of targets) {
    const step = target.jumpTo(snapshot, state, fragmentScope(d.case, undefined, d.ctx.customer));
    applyStep(d, f, target, step, true);
    snapshot = step.snapshot;
  }
  const toStates = [...(f.activeStates ?? [])];
  entry.data['toStates'] = toStates;
  return {
    fragmentId: f.id,
    from: { definition: fromRef, states: fromStates },
    to: { definition: command.to, states: toStates, status: f.status },
    ...summariseEffects(d.effects.slice(firstEffect)),
  };
}

function mapState(state: string, mapping: Record<string, string>): string {
  let best: string | undefined;
  for (const key of Object.keys(mapping)) {
    if ((state === key || state.startsWith(`${key}.`)) && (best === undefined || key.length > best.length)) best = key;
  }
  return best === undefined ? state : (mapping[best] as string);
}

function summariseEffects(effects: Effect[]) {
  const tasks = { closed: [] as { id: string; stateKey: string }[], opened: [] as { id: string; stateKey: string }[] };
  const timers = { cancelled: [] as string[], scheduled: [] as { id: string; dueAt: string; event?: string }[] };
  for (const e of effects) {
    if (e.type === 'task.upsert') {
      const item = { id: e.task.id, stateKey: e.task.stateKey };
      (e.task.status === 'open' ? tasks.opened : tasks.closed).push(item);
    } else if (e.type === 'timer.cancel') {
      timers.cancelled.push(e.timerId);
    } else if (e.type === 'timer.schedule') {
      timers.scheduled.push({
        id: e.timer.id,
        dueAt: e.timer.dueAt,
        ...(e.timer.event ? { event: e.timer.event.type } : {}),
      });
    }
  }
  return { tasks, timers };
}
