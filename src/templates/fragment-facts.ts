/**
 * What a fragment definition can do, read from its data: the milestones it sets, the
 * outbound events it emits, the tasks it opens and the events it waits for. Templates use
 * these to check that their goals are reachable and their roles cover the tasks; the library
 * listing can show them.
 */
import type { ActionJson, FragmentDefinition, StateJson, TaskSpec, TransitionJson } from '../fragments/types.js';

export interface FragmentFacts {
  milestones: string[];
  emits: string[];
  /** Tasks by state path (dotted). */
  tasks: { state: string; task: TaskSpec }[];
  /** Event types named in `on` (including task completion events), excluding xstate.*. */
  events: string[];
  /** `after` keys by state path (`"PT2H"`, `"5000"`). */
  delays: { state: string; delay: string }[];
}

export function collectFragmentFacts(definition: FragmentDefinition): FragmentFacts {
  const milestones = new Set<string>();
  const emits = new Set<string>();
  const events = new Set<string>();
  const tasks: FragmentFacts['tasks'] = [];
  const delays: FragmentFacts['delays'] = [];

  const visitAction = (action: ActionJson) => {
    if (typeof action === 'string') return;
    const params = action.params ?? {};
    if (action.type === 'setMilestone' && typeof params.key === 'string') milestones.add(params.key);
    if (action.type === 'emit' && typeof params.eventType === 'string') emits.add(params.eventType);
  };
  const visitActions = (actions: ActionJson | ActionJson[] | undefined) => {
    for (const a of toArray(actions)) visitAction(a);
  };
  const visitTransitions = (transitions: TransitionJson | TransitionJson[] | undefined) => {
    for (const t of toArray(transitions)) if (typeof t !== 'string') visitActions(t.actions);
  };
  const visitState = (path: string, state: StateJson) => {
    visitActions(state.entry);
    visitActions(state.exit);
    for (const [event, transitions] of Object.entries(state.on ?? {})) {
      if (!event.startsWith('xstate.')) events.add(event);
      visitTransitions(transitions);
    }
    for (const [delay, transitions] of Object.entries(state.after ?? {})) {
      delays.push({ state: path, delay });
      visitTransitions(transitions);
    }
    visitTransitions(state.always);
    if (state.meta?.task) tasks.push({ state: path, task: state.meta.task });
    for (const [key, child] of Object.entries(state.states ?? {})) visitState(`${path}.${key}`, child);
  };
  for (const [key, state] of Object.entries(definition.machine.states)) visitState(key, state);

  return {
    milestones: [...milestones].sort(),
    emits: [...emits].sort(),
    tasks,
    events: [...events].sort(),
    delays,
  };
}

function toArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}
