/**
 * Validation of fragment definitions, whatever their source (library files, the API,
 * checklists, captured plans). Four passes, cheapest first, so hostile input is refused
 * before any expensive work:
 * 1. bounded structure: plain JSON, nesting depth, number of states and state depth, size;
 * 2. shape: JSON Schema (definition-schema.ts), unknown keys refused;
 * 3. semantics: targets resolve, guards/actions exist in the registry with valid params,
 *    expressions compile, delays resolve, tasks are well formed, no `always` loop;
 * 4. XState itself builds the machine (a backstop for anything the passes above missed).
 * Every problem names its path (`machine.states.review.on.APPROVE.target`) and the fix.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { checkAuthorSchema } from '../json-schema/author-schemas.js';
import { buildMachine } from './build-machine.js';
import type { DefinitionProblem } from './definition-error.js';
import { DEFINITION_SHAPE_LIMITS, definitionSchema } from './definition-schema.js';
import { entrySet, indexStates, resolveTarget, type StateIndex, type StateInfo } from './index-states.js';
import { parseDelay } from './parse-delay.js';
import { ACTIONS, GUARDS, checkParams, isActionName, isGuardName, isReservedEventType } from './registry.js';
import type { ActionJson, FragmentDefinition, TransitionJson } from './types.js';

export const DEFINITION_LIMITS = {
  ...DEFINITION_SHAPE_LIMITS,
  /** UTF-8 bytes of the definition as JSON. */
  maxJsonBytes: 256 * 1024,
  /** Nesting of the JSON document (states, meta, forms, params...). */
  maxJsonDepth: 64,
  maxStates: 200,
  /** Nesting of states (1 = top-level states only). */
  maxStateDepth: 8,
  /** Problems reported at most (the rest are summarized). */
  maxProblems: 50,
} as const;

export type DefinitionValidation =
  | { ok: true; definition: FragmentDefinition }
  | { ok: false; problems: DefinitionProblem[] };

const REFUSED_KEYS: Record<string, string> = {
  invoke: 'invoke is not allowed: restoring a durable fragment would re-run the invoked actor. Use named actions (emit) and the outbox instead',
  spawn: 'spawn is not allowed: durable fragments cannot own actors. Use named actions (emit) and the outbox instead',
  onDone: 'onDone is not supported: move to the next state with an event or an `always` transition with a guard',
  history: 'history states are not supported: jump to an explicit state instead',
  id: 'state ids are not supported: target states by path (`sibling`, `.child`) or by `#<machine id>.path.to.state`',
  target: 'a state has no target; put it on a transition under on, after or always',
};

const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
const validateShape = ajv.compile(definitionSchema);


/**
 * Validates an untrusted fragment definition. Never throws; returns every problem found
 * (up to DEFINITION_LIMITS.maxProblems), each with its path and what to change.
 * A definition of 10,000 states is refused in the first pass, in about a millisecond.
 */
export interface ValidateOptions {
  /**
   * `author` (default): task forms get the strict draft 2020-12 check of every authored schema.
   * `stored`: the definition was accepted before (compiling a stored copy): a form need only be
   * usable by the engine, so a definition accepted under an older, laxer check keeps running.
   */
  forms?: 'author' | 'stored';
}

export function validateFragmentDefinition(def: unknown, options: ValidateOptions = {}): DefinitionValidation {
  const structural = checkStructure(def);
  if (structural.length > 0) return { ok: false, problems: structural };

  if (!validateShape(def)) {
    return { ok: false, problems: cap(shapeProblems(validateShape.errors ?? [])) };
  }
  const definition = def as unknown as FragmentDefinition;
  const index = indexStates(definition.machine);
  const problems = checkSemantics(definition, index, options.forms ?? 'author');
  if (problems.length > 0) return { ok: false, problems: cap(problems) };

  try {
    const machine = buildMachine(definition.machine, index, { scope: EMPTY_SCOPE, eventUnknown: false });
    // XState resolves transitions and delays lazily: touch them so errors surface now.
    const stack = [machine.root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      void node.on;
      void node.after;
      void node.always;
      stack.push(...Object.values(node.states));
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, problems: [{ path: 'machine', message: `XState refused the machine: ${message}` }] };
  }
  return { ok: true, definition };
}

const EMPTY_SCOPE = { caseFile: {}, milestones: {}, case: { id: '', status: 'open', priority: 'normal' } };

/** Pass 1: iterative, bounded walks (no recursion, so hostile nesting cannot overflow the stack). */
function checkStructure(def: unknown): DefinitionProblem[] {
  if (!isPlainObject(def)) {
    return [{ path: '', message: 'A fragment definition must be a JSON object with key, version, title and machine.' }];
  }
  // States first: counting them walks only `states` objects, so a 10,000-state machine is
  // refused before anything walks the whole document.
  const stateProblems = countStates(def);
  if (stateProblems.length > 0) return stateProblems;

  const maxNodes = DEFINITION_LIMITS.maxJsonBytes; // every JSON value takes at least one byte
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: def, path: '', depth: 0 }];
  let nodes = 0;
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (++nodes > maxNodes) {
      return [{ path: '', message: `The definition is larger than ${DEFINITION_LIMITS.maxJsonBytes / 1024} KB of JSON. Split it into several fragments.` }];
    }
    if (depth > DEFINITION_LIMITS.maxJsonDepth) {
      return [{ path, message: `The definition is nested deeper than ${DEFINITION_LIMITS.maxJsonDepth} levels (or contains a cycle). Flatten it.` }];
    }
    if (value === null || typeof value === 'string' || typeof value === 'boolean' || value === undefined) continue;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) return [{ path, message: `${value} is not a JSON number.` }];
      continue;
    }
    if (Array.isArray(value)) {
      value.forEach((item, i) => stack.push({ value: item, path: `${path}[${i}]`, depth: depth + 1 }));
      continue;
    }
    if (!isPlainObject(value)) {
      return [{ path, message: `Only JSON values are allowed here, not a ${typeof value === 'object' ? value.constructor?.name ?? 'object' : typeof value}.` }];
    }
    for (const [key, item] of Object.entries(value)) {
      stack.push({ value: item, path: path === '' ? key : `${path}.${key}`, depth: depth + 1 });
    }
  }

  const bytes = Buffer.byteLength(JSON.stringify(def), 'utf8');
  if (bytes > DEFINITION_LIMITS.maxJsonBytes) {
    return [{ path: '', message: `The definition is ${Math.ceil(bytes / 1024)} KB of JSON; the limit is ${DEFINITION_LIMITS.maxJsonBytes / 1024} KB. Split it into several fragments.` }];
  }
  return [];
}

function countStates(def: Record<string, unknown>): DefinitionProblem[] {
  const machine = def.machine;
  if (!isPlainObject(machine) || !isPlainObject(machine.states)) return [];
  const stack: { states: Record<string, unknown>; path: string; depth: number }[] = [
    { states: machine.states, path: 'machine.states', depth: 1 },
  ];
  let count = 0;
  while (stack.length > 0) {
    const { states, path, depth } = stack.pop()!;
    for (const [key, state] of Object.entries(states)) {
      if (++count > DEFINITION_LIMITS.maxStates) {
        return [{ path: 'machine.states', message: `The machine has more than ${DEFINITION_LIMITS.maxStates} states. Split it into several fragments.` }];
      }
      if (depth > DEFINITION_LIMITS.maxStateDepth) {
        return [{ path: `${path}.${key}`, message: `States are nested deeper than ${DEFINITION_LIMITS.maxStateDepth} levels. Flatten the machine.` }];
      }
      if (isPlainObject(state) && isPlainObject(state.states)) {
        stack.push({ states: state.states, path: `${path}.${key}.states`, depth: depth + 1 });
      }
    }
  }
  return [];
}

/** Pass 2: Ajv errors as problems. `if` errors only repeat the branch's own error. */
function shapeProblems(errors: ErrorObject[]): DefinitionProblem[] {
  const seen = new Set<string>();
  const problems: DefinitionProblem[] = [];
  for (const error of errors) {
    // `if` errors repeat the branch's own error; a propertyNames failure comes twice (inner + outer).
    if (error.keyword === 'if' || error.propertyName !== undefined) continue;
    const base = pointerToPath(error.instancePath);
    let path = base;
    let message: string;
    if (error.keyword === 'additionalProperties') {
      const key = String(error.params.additionalProperty);
      path = join(base, key);
      message = Object.hasOwn(REFUSED_KEYS, key) ? `${REFUSED_KEYS[key]}.` : `"${key}" is not allowed here. Remove it (check the spelling).`;
    } else if (error.keyword === 'required') {
      path = join(base, String(error.params.missingProperty));
      message = 'is required.';
    } else if (error.keyword === 'propertyNames') {
      const name = String(error.params.propertyName);
      path = join(base, name);
      message = `"${name.slice(0, 64)}" is not a valid name: start with a letter, then letters, digits, "_" or "-"` +
        (base.endsWith('.on') ? ' ("." allowed in event types; no wildcards).' : ' (no dots).');
    } else if (error.keyword === 'pattern') {
      message = `${String(error.data).slice(0, 64)} is not a valid name: start with a letter, then letters, digits, "_" or "-".`;
    } else if (error.keyword === 'maxProperties' || error.keyword === 'maxItems') {
      message = `${error.message ?? 'has too many entries'}; that is the limit.`;
    } else if (error.keyword === 'type') {
      const types = String(error.params.type).split(',');
      message = `must be ${types.map((t) => (t === 'object' || t === 'array' || t === 'integer' ? `an ${t}` : `a ${t}`)).join(' or ')}.`;
    } else if (error.keyword === 'enum') {
      message = `must be one of ${(error.params.allowedValues as unknown[]).map(String).join(', ')}.`;
    } else {
      message = `${error.message ?? 'is invalid'}.`;
    }
    const id = `${path}\n${message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    problems.push({ path, message });
  }
  return problems;
}

function pointerToPath(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((segment) => (/^[0-9]+$/.test(segment) ? `[${segment}]` : segment))
    .reduce((path, segment) => (segment.startsWith('[') ? path + segment : join(path, segment)), '');
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** Pass 3. */
function checkSemantics(def: FragmentDefinition, index: StateIndex, forms: 'author' | 'stored'): DefinitionProblem[] {
  const problems: DefinitionProblem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });

  if (!index.root.children.has(def.machine.initial)) {
    add('machine.initial', `"${def.machine.initial}" is not a top-level state. Use one of: ${listKeys(index.root)}.`);
  }

  for (const state of index.byPath.values()) {
    const path = statePath(state);
    const json = state.json;
    const hasChildren = state.children.size > 0;
    if ((json.type === 'atomic' || json.type === 'final') && json.states !== undefined) {
      add(`${path}.states`, `A ${json.type} state has no child states. Remove "states" or make it compound.`);
    }
    if (json.type === 'compound' && !hasChildren) add(`${path}.states`, 'A compound state needs child states.');
    if (json.type === 'parallel') {
      if (!hasChildren) add(`${path}.states`, 'A parallel state needs child states (its regions).');
      if (json.initial !== undefined) add(`${path}.initial`, 'A parallel state enters all its regions; remove "initial".');
    } else if (hasChildren) {
      if (json.initial === undefined) add(`${path}.initial`, `is required for a state with child states. Use one of: ${listKeys(state)}.`);
      else if (!state.children.has(json.initial)) add(`${path}.initial`, `"${json.initial}" is not a child state. Use one of: ${listKeys(state)}.`);
    } else if (json.initial !== undefined) {
      add(`${path}.initial`, 'A state without child states has no initial state; remove "initial".');
    }
    if (state.kind === 'final') {
      for (const key of ['on', 'after', 'always'] as const) {
        if (json[key] !== undefined) add(`${path}.${key}`, `A final state cannot have ${key} transitions; the fragment ends there. Remove them or drop type "final".`);
      }
    }

    for (const [event, transitions] of Object.entries(json.on ?? {})) {
      if (isReservedEventType(event)) {
        add(`${path}.on.${event}`, `Event types starting with "xstate." or "tessera." belong to the runtime. Rename the event.`);
      }
      checkTransitions(index, state, `${path}.on.${event}`, transitions, add);
    }
    for (const [delay, transitions] of Object.entries(json.after ?? {})) {
      const parsed = parseDelay(delay);
      if (!parsed.ok) add(`${path}.after.${delay}`, `The delay ${parsed.message}. A delay XState cannot resolve would fire immediately.`);
      checkTransitions(index, state, `${path}.after.${delay}`, transitions, add);
    }
    if (json.always !== undefined) {
      checkTransitions(index, state, `${path}.always`, json.always, add);
      for (const [i, t] of asArray(json.always).entries()) {
        if (typeof t !== 'string' && t.target === undefined && t.guard === undefined) {
          add(at(`${path}.always`, i, json.always), 'An `always` transition without a target and without a guard runs on every step. Add a guard or a target.');
        }
      }
    }
    checkActions(`${path}.entry`, json.entry, add);
    checkActions(`${path}.exit`, json.exit, add);
    checkTask(state, path, add, forms);
  }

  for (const cycle of alwaysCycles(index)) {
    add(`${statePath(cycle[0]!)}.always`, `Unguarded \`always\` transitions loop forever: ${cycle.map((s) => s.key).join(' -> ')}. Add a guard to one of them or wait for an event.`);
  }
  return problems;
}

type Add = (path: string, message: string) => void;

function checkTransitions(index: StateIndex, source: StateInfo, path: string, transitions: TransitionJson | TransitionJson[], add: Add): void {
  for (const [i, transition] of asArray(transitions).entries()) {
    const tPath = at(path, i, transitions);
    const target = typeof transition === 'string' ? transition : transition.target;
    const targetPath = typeof transition === 'string' ? tPath : `${tPath}.target`;
    if (target !== undefined && resolveTarget(index, source, target) === undefined) {
      const siblings = listKeys(source.parent ?? index.root);
      add(targetPath, `Target "${target}" does not exist. Use a sibling state (${siblings}), ".child" for a child state, or "#${index.machineId}.path.to.state".`);
    }
    if (typeof transition === 'string') continue;
    if (transition.guard !== undefined) {
      const { name, params } = named(transition.guard);
      if (!isGuardName(name)) {
        add(`${tPath}.guard`, `Unknown guard "${name}". Registered guards: ${Object.keys(GUARDS).join(', ')}.`);
      } else {
        for (const message of checkParams('guard', name, params)) add(`${tPath}.guard`, `${message}.`);
      }
    }
    checkActions(`${tPath}.actions`, transition.actions, add);
  }
}

function checkActions(path: string, actions: ActionJson | ActionJson[] | undefined, add: Add): void {
  if (actions === undefined) return;
  for (const [i, action] of asArray(actions).entries()) {
    const aPath = at(path, i, actions);
    const { name, params } = named(action);
    if (!isActionName(name)) {
      const hint = /spawn|invoke/i.test(name) ? ' Durable fragments cannot start actors; use emit and the outbox.' : '';
      add(aPath, `Unknown action "${name}". Registered actions: ${Object.keys(ACTIONS).join(', ')}.${hint}`);
      continue;
    }
    for (const message of checkParams('action', name, params)) add(aPath, `${name}: ${message}.`);
  }
}

const TASK_ROLES = ['agent', 'supervisor', 'admin'] as const;

function checkTask(state: StateInfo, path: string, add: Add, forms: 'author' | 'stored'): void {
  const json = state.json;
  const tagged = json.tags?.includes('task') === true;
  const task = json.meta?.task;
  if (tagged && task === undefined) {
    add(`${path}.meta.task`, 'A state tagged "task" needs meta.task with at least a title.');
    return;
  }
  if (task === undefined) return;
  if (!tagged) {
    add(`${path}.tags`, 'meta.task is only used on states tagged "task": add "task" to tags (or remove meta.task).');
  }
  if (task.form !== undefined) {
    // The same dialect and strictness as case-file schemas and the engine (draft 2020-12).
    const check = checkAuthorSchema(task.form, forms);
    if (!check.ok) {
      const first = check.errors[0];
      const message = check.message ?? `${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}`;
      add(`${path}.meta.task.form`, `is not a valid JSON Schema (draft 2020-12): ${message.slice(0, 200)}.`);
    }
  }
  // Roles are the people's roles (integrations never work tasks); a typo would make an approval
  // nobody can take. Stored definitions written before the rule keep running (a stranger role
  // then needs a supervisor, see cases/task-eligibility.ts).
  if (task.role !== undefined && forms === 'author' && !(TASK_ROLES as readonly string[]).includes(task.role)) {
    add(`${path}.meta.task.role`, `"${task.role}" is not a role people have; use one of ${TASK_ROLES.join(', ')}.`);
  }
  if (task.due !== undefined) {
    const parsed = parseDelay(task.due);
    if (!parsed.ok) add(`${path}.meta.task.due`, `${parsed.message}.`);
  }
  const event = task.event ?? 'COMPLETE';
  let accepts = false;
  for (let s: StateInfo | undefined = state; s !== undefined && !accepts; s = s.parent) {
    accepts = s.json.on !== undefined && Object.hasOwn(s.json.on, event);
  }
  if (!accepts) {
    add(`${path}.on`, `Completing the task sends "${event}", but neither this state nor its parents handle it. Add on.${event} (or set meta.task.event).`);
  }
}

/**
 * Cycles of unguarded `always` transitions. Entering a target activates it, its ancestors and
 * its initial descendants; an unguarded `always` on any of them fires next.
 */
function alwaysCycles(index: StateIndex): StateInfo[][] {
  const edges = new Map<StateInfo, StateInfo[]>();
  const unguardedTarget = (state: StateInfo): StateInfo | undefined => {
    for (const t of asArray(state.json.always ?? [])) {
      if (typeof t !== 'string' && t.guard !== undefined) continue;
      const target = typeof t === 'string' ? t : t.target;
      return target === undefined ? undefined : resolveTarget(index, state, target);
    }
    return undefined;
  };
  const fires = new Map<StateInfo, StateInfo | undefined>();
  for (const state of index.byPath.values()) fires.set(state, unguardedTarget(state));
  for (const [state, target] of fires) {
    if (target === undefined) continue;
    edges.set(state, entrySet(target).filter((s) => fires.get(s) !== undefined));
  }

  const cycles: StateInfo[][] = [];
  const color = new Map<StateInfo, 'grey' | 'black'>();
  for (const start of edges.keys()) {
    if (color.has(start)) continue;
    // Iterative DFS keeping the current path, so a cycle can be printed.
    const path: StateInfo[] = [];
    const stack: { state: StateInfo; next: number }[] = [{ state: start, next: 0 }];
    color.set(start, 'grey');
    path.push(start);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const out = edges.get(frame.state) ?? [];
      if (frame.next >= out.length) {
        color.set(frame.state, 'black');
        stack.pop();
        path.pop();
        continue;
      }
      const next = out[frame.next++]!;
      const c = color.get(next);
      if (c === 'grey') {
        cycles.push([...path.slice(path.indexOf(next)), next]);
      } else if (c === undefined) {
        color.set(next, 'grey');
        path.push(next);
        stack.push({ state: next, next: 0 });
      }
    }
  }
  return cycles;
}

function named(ref: string | { type: string; params?: Record<string, unknown> }): { name: string; params: unknown } {
  return typeof ref === 'string' ? { name: ref, params: undefined } : { name: ref.type, params: ref.params };
}

function asArray<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

function at(path: string, i: number, value: unknown): string {
  return Array.isArray(value) ? `${path}[${i}]` : path;
}

function statePath(state: StateInfo): string {
  return `machine.states.${state.segments.join('.states.')}`;
}

function listKeys(state: StateInfo): string {
  const keys = [...state.children.keys()];
  return keys.length === 0 ? 'none' : keys.slice(0, 20).join(', ') + (keys.length > 20 ? ', ...' : '');
}

function cap(problems: DefinitionProblem[]): DefinitionProblem[] {
  if (problems.length <= DEFINITION_LIMITS.maxProblems) return problems;
  return [
    ...problems.slice(0, DEFINITION_LIMITS.maxProblems),
    { path: '', message: `${problems.length - DEFINITION_LIMITS.maxProblems} more problems not shown. Fix the ones above first.` },
  ];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

