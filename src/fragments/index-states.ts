/**
 * A read-only index of a machine's state tree: every state by dotted path, its kind, and
 * XState's target resolution. Shared by validation (targets, cycles) and the runtime
 * (state paths, task specs, snapshot checks). Built from an already shape-checked machine.
 */
import type { MachineJson, StateJson, TaskSpec } from './types.js';

export type StateKind = 'atomic' | 'compound' | 'parallel' | 'final';

export interface StateInfo {
  /** Dotted path from the root, e.g. `review.drafting`; `''` for the root. */
  readonly key: string;
  readonly segments: readonly string[];
  readonly kind: StateKind;
  readonly json: StateJson;
  readonly parent: StateInfo | undefined;
  readonly children: ReadonlyMap<string, StateInfo>;
  /** Nesting level: 1 for top-level states. */
  readonly depth: number;
  /** XState's node id: `<machine id>.<path>`. */
  readonly nodeId: string;
}

export interface StateIndex {
  readonly machineId: string;
  readonly root: StateInfo;
  /** Every state except the root, by dotted path, in document order. */
  readonly byPath: ReadonlyMap<string, StateInfo>;
  /** Task specs of states tagged `task`, by dotted path, in document order. */
  readonly tasks: ReadonlyMap<string, TaskSpec>;
}

export function stateKind(json: StateJson): StateKind {
  if (json.type !== undefined) return json.type;
  return json.states !== undefined && Object.keys(json.states).length > 0 ? 'compound' : 'atomic';
}

export function indexStates(machine: MachineJson): StateIndex {
  const byPath = new Map<string, StateInfo>();
  const tasks = new Map<string, TaskSpec>();
  const rootJson: StateJson = { initial: machine.initial, states: machine.states };
  const build = (json: StateJson, segments: string[], parent: StateInfo | undefined): StateInfo => {
    const children = new Map<string, StateInfo>();
    const key = segments.join('.');
    const info: StateInfo = {
      key,
      segments,
      kind: parent === undefined ? 'compound' : stateKind(json),
      json,
      parent,
      children,
      depth: segments.length,
      nodeId: segments.length === 0 ? machine.id : `${machine.id}.${key}`,
    };
    if (parent !== undefined) {
      byPath.set(key, info);
      if (json.tags?.includes('task') === true && json.meta?.task !== undefined) tasks.set(key, json.meta.task);
    }
    for (const [childKey, childJson] of Object.entries(json.states ?? {})) {
      children.set(childKey, build(childJson, [...segments, childKey], info));
    }
    return info;
  };
  const root = build(rootJson, [], undefined);
  return { machineId: machine.id, root, byPath, tasks };
}

/** Follows `path` (segments) down from `from`; undefined when a segment does not exist. */
export function descend(from: StateInfo, path: readonly string[]): StateInfo | undefined {
  let current: StateInfo | undefined = from;
  for (const segment of path) {
    current = current?.children.get(segment);
    if (current === undefined) return undefined;
  }
  return current;
}

/**
 * Resolves a transition target written on state `source`, as XState does:
 * `#<machine id>.a.b` from the root, `.child` below the source, `sibling.child` from the
 * source's parent. Returns undefined when it does not resolve.
 */
export function resolveTarget(index: StateIndex, source: StateInfo, target: string): StateInfo | undefined {
  if (target === '') return undefined;
  if (target.startsWith('#')) {
    const [id, ...rest] = target.slice(1).split('.');
    return id === index.machineId ? descend(index.root, rest) : undefined;
  }
  if (target.startsWith('.')) return descend(source, target.slice(1).split('.'));
  return descend(source.parent ?? index.root, target.split('.'));
}

/** The states active right after entering `target`: it, its ancestors and its default descendants. */
export function entrySet(target: StateInfo): StateInfo[] {
  const out: StateInfo[] = [];
  for (let s: StateInfo | undefined = target.parent; s !== undefined; s = s.parent) out.push(s);
  const stack = [target];
  while (stack.length > 0) {
    const s = stack.pop()!;
    out.push(s);
    if (s.kind === 'parallel') stack.push(...s.children.values());
    else if (s.kind === 'compound' && s.json.initial !== undefined) {
      const initial = s.children.get(s.json.initial);
      if (initial !== undefined) stack.push(initial);
    }
  }
  return out;
}

/** Dotted paths of the leaves of an XState state value (`{ review: 'drafting' }` -> `review.drafting`). */
export function leafPaths(value: unknown, prefix = '', depth = 0): string[] | undefined {
  if (typeof value === 'string') return [prefix + value];
  if (depth > 16) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const out: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const inner = leafPaths(child, `${prefix}${key}.`, depth + 1);
    if (inner === undefined) return undefined;
    // A compound state whose value is `{}` has no active child recorded: it is the leaf.
    out.push(...(inner.length === 0 ? [prefix + key] : inner));
  }
  return out;
}
