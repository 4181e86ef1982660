/**
 * A fragment's machine as a graph to lay out: one box per state (compound and parallel states
 * hold their children), an initial pseudo-node per compound state, and one edge per transition
 * that has a target. Pure: targets resolve with the same index the validator uses, so the
 * diagram shows exactly the transitions the engine runs. No layout here (see layout.ts).
 */
import { indexStates, resolveTarget, type StateInfo } from '../fragments/index-states.js';
import type { MachineJson, TransitionJson } from '../fragments/types.js';

export type DiagramNodeKind = 'atomic' | 'compound' | 'parallel' | 'final' | 'initial';
export type DiagramTrigger = 'event' | 'after' | 'always' | 'initial';

export interface GraphNode {
  /** The state's dotted path (`review.drafting`); initial pseudo-nodes: `<parent path>#initial`. */
  id: string;
  key: string;
  /** Path of the enclosing state; null at the top level. */
  parent: string | null;
  kind: DiagramNodeKind;
  label: string;
  taskTitle: string | null;
  /** Atomic and pseudo-nodes: the box size to lay out. Containers are sized by the layout. */
  width: number;
  height: number;
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  trigger: DiagramTrigger;
  event: string | null;
  guard: string | null;
  label: string;
  /** The node whose coordinate system ELK routes the edge in: the lowest common container, null = root. */
  container: string | null;
}

export interface MachineGraph {
  machineId: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/** Glyph width at 12 px sans-serif, generous so labels fit in most fonts. */
export const CHAR_WIDTH = 7;
export const LINE_HEIGHT = 16;
export const HEADER_HEIGHT = 24;
const TASK_TITLE_CHARS = 40;
const INITIAL_SIZE = 12;

export function textWidth(text: string): number {
  return Math.ceil(text.length * CHAR_WIDTH);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function transitionsOf(value: TransitionJson | TransitionJson[] | undefined): Exclude<TransitionJson, string>[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map((t) => (typeof t === 'string' ? { target: t } : t));
}

function guardName(t: Exclude<TransitionJson, string>): string | null {
  if (t.guard === undefined) return null;
  return typeof t.guard === 'string' ? t.guard : t.guard.type;
}

/** The nearest state holding both (a path; '' = the root). An edge to or from a container lives in that container's parent. */
function commonContainer(a: StateInfo, b: StateInfo): string {
  const chain = (s: StateInfo) => {
    const out: StateInfo[] = [];
    for (let p = s.parent; p !== undefined; p = p.parent) out.push(p);
    return out;
  };
  const ofB = new Set(chain(b));
  for (const p of chain(a)) if (ofB.has(p)) return p.key;
  return '';
}

export function machineGraph(machine: MachineJson): MachineGraph {
  const index = indexStates(machine);
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  let edgeCount = 0;
  const nextEdgeId = () => `e${++edgeCount}`;

  const addInitial = (container: StateInfo) => {
    if (container.kind !== 'compound') return;
    const initialKey = container === index.root ? machine.initial : container.json.initial;
    const initial = initialKey === undefined ? undefined : container.children.get(initialKey);
    if (initial === undefined) return;
    const id = `${container.key}#initial`;
    nodes.push({ id, key: '', parent: container.key === '' ? null : container.key, kind: 'initial', label: '', taskTitle: null, width: INITIAL_SIZE, height: INITIAL_SIZE });
    edges.push({ id: nextEdgeId(), source: id, target: initial.key, trigger: 'initial', event: null, guard: null, label: '', container: container.key === '' ? null : container.key });
  };

  addInitial(index.root);
  for (const state of index.byPath.values()) {
    const taskTitle = state.json.meta?.task?.title ? truncate(state.json.meta.task.title, TASK_TITLE_CHARS) : null;
    const width = Math.max(120, textWidth(state.segments.at(-1)!) + 32, taskTitle ? textWidth(taskTitle) + 24 : 0);
    nodes.push({
      id: state.key,
      key: state.segments.at(-1)!,
      parent: state.parent === index.root || state.parent === undefined ? null : state.parent.key,
      kind: state.kind,
      label: state.segments.at(-1)!,
      taskTitle,
      width,
      height: taskTitle ? 2 * LINE_HEIGHT + 20 : LINE_HEIGHT + 16,
    });
    addInitial(state);
  }

  for (const source of index.byPath.values()) {
    const add = (trigger: DiagramTrigger, event: string | null, label: string, transitions: Exclude<TransitionJson, string>[]) => {
      for (const t of transitions) {
        if (t.target === undefined) continue;
        const target = resolveTarget(index, source, t.target);
        if (target === undefined || target === index.root) continue;
        const guard = guardName(t);
        const container = commonContainer(source, target);
        edges.push({
          id: nextEdgeId(),
          source: source.key,
          target: target.key,
          trigger,
          event,
          guard,
          label: guard ? `${label} [${guard}]` : label,
          container: container === '' ? null : container,
        });
      }
    };
    for (const [event, value] of Object.entries(source.json.on ?? {})) add('event', event, event, transitionsOf(value));
    for (const [delay, value] of Object.entries(source.json.after ?? {})) add('after', delay, `after ${delay}`, transitionsOf(value));
    add('always', null, 'always', transitionsOf(source.json.always));
  }
  return { machineId: machine.id, nodes, edges };
}
