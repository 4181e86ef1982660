/**
 * Lays out a machine graph with ELK (layered, hierarchy handled across containers) and returns
 * boxes and edge polylines in absolute coordinates, so a client draws them without knowing
 * ELK's coordinate rules (node positions are relative to their parent; edge sections to the
 * edge's `container`).
 */
import elkModule from 'elkjs/lib/elk.bundled.js';
import type { ELK, ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import { HEADER_HEIGHT, LINE_HEIGHT, textWidth, type DiagramNodeKind, type DiagramTrigger, type MachineGraph } from './machine-graph.js';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface DiagramNode extends Box {
  id: string;
  key: string;
  parent: string | null;
  kind: DiagramNodeKind;
  label: string;
  task_title: string | null;
}

export interface DiagramEdge {
  id: string;
  source: string;
  target: string;
  trigger: DiagramTrigger;
  event: string | null;
  guard: string | null;
  label: string;
  points: { x: number; y: number }[];
  label_box: Box | null;
}

export interface DiagramLayout {
  width: number;
  height: number;
  nodes: DiagramNode[];
  edges: DiagramEdge[];
  layout: { engine: 'elkjs'; algorithm: 'layered'; direction: 'RIGHT'; coordinates: 'absolute' };
}

const ROOT = '$root';
const round = (n: number) => Math.round(n * 10) / 10;

const ROOT_OPTIONS = {
  'elk.algorithm': 'layered',
  'elk.direction': 'RIGHT',
  'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.layered.spacing.nodeNodeBetweenLayers': '48',
  'elk.spacing.nodeNode': '28',
  'elk.spacing.edgeLabel': '4',
  'elk.edgeLabels.placement': 'CENTER',
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.padding': '[top=12,left=12,bottom=12,right=12]',
};

const CONTAINER_OPTIONS = {
  'elk.padding': `[top=${HEADER_HEIGHT + 12},left=12,bottom=12,right=12]`,
  'elk.nodeLabels.placement': 'INSIDE V_TOP H_CENTER',
};

// A CommonJS module: under Node's ESM loader its constructor is the namespace's `default`.
const ElkConstructor = ((elkModule as unknown as { default?: unknown }).default ?? elkModule) as new () => ELK;
let elk: ELK | undefined;

/** ELK on this thread: tests and one-off tools; the API passes its worker (elk-worker.ts). */
export const layoutHere = (graph: ElkNode): Promise<ElkNode> => {
  elk ??= new ElkConstructor();
  return elk.layout(graph);
};

export async function layoutGraph(graph: MachineGraph, runLayout: (graph: ElkNode) => Promise<ElkNode> = layoutHere): Promise<DiagramLayout> {
  const containers = new Set(graph.nodes.map((n) => n.parent).filter((p): p is string => p !== null));
  const elkNodes = new Map<string, ElkNode>();
  const root: ElkNode = { id: ROOT, layoutOptions: ROOT_OPTIONS, children: [], edges: [] };
  elkNodes.set(ROOT, root);
  for (const n of graph.nodes) {
    const isContainer = containers.has(n.id);
    const node: ElkNode = isContainer
      ? { id: n.id, layoutOptions: CONTAINER_OPTIONS, labels: [{ text: n.label, width: textWidth(n.label), height: LINE_HEIGHT }], children: [], edges: [] }
      : { id: n.id, width: n.width, height: n.height };
    elkNodes.set(n.id, node);
    elkNodes.get(n.parent ?? ROOT)!.children!.push(node);
  }
  for (const e of graph.edges) {
    const edge: ElkExtendedEdge = {
      id: e.id,
      sources: [e.source],
      targets: [e.target],
      ...(e.label ? { labels: [{ text: e.label, width: textWidth(e.label), height: LINE_HEIGHT }] } : {}),
    };
    elkNodes.get(e.container ?? ROOT)!.edges!.push(edge);
  }

  const laid = await runLayout(root);

  // Absolute positions of every node, parents first.
  const origin = new Map<string, { x: number; y: number }>();
  const boxes = new Map<string, Box>();
  const laidEdges = new Map<string, { edge: ElkExtendedEdge; holder: string }>();
  const walk = (node: ElkNode, ox: number, oy: number) => {
    const x = ox + (node.x ?? 0);
    const y = oy + (node.y ?? 0);
    origin.set(node.id, { x, y });
    boxes.set(node.id, { x: round(x), y: round(y), width: round(node.width ?? 0), height: round(node.height ?? 0) });
    for (const e of node.edges ?? []) laidEdges.set(e.id, { edge: e, holder: node.id });
    for (const child of node.children ?? []) walk(child, x, y);
  };
  walk(laid, 0, 0);

  const nodes: DiagramNode[] = graph.nodes.map((n) => ({
    id: n.id,
    key: n.key,
    parent: n.parent,
    kind: n.kind,
    label: n.label,
    task_title: n.taskTitle,
    ...boxes.get(n.id)!,
  }));
  const edges: DiagramEdge[] = graph.edges.map((e) => {
    const found = laidEdges.get(e.id);
    const laidEdge = found?.edge;
    // Sections are relative to the edge's container (ELK may name one other than where we put it).
    const at = origin.get(laidEdge?.container ?? found?.holder ?? ROOT) ?? { x: 0, y: 0 };
    const shift = (p: { x: number; y: number }) => ({ x: round(at.x + p.x), y: round(at.y + p.y) });
    const points = (laidEdge?.sections ?? []).flatMap((s, i) => [...(i === 0 ? [shift(s.startPoint)] : []), ...(s.bendPoints ?? []).map(shift), shift(s.endPoint)]);
    const label = laidEdge?.labels?.[0];
    return {
      id: e.id,
      source: e.source,
      target: e.target,
      trigger: e.trigger,
      event: e.event,
      guard: e.guard,
      label: e.label,
      points,
      label_box: label && label.x !== undefined && label.y !== undefined
        ? { x: round(at.x + label.x), y: round(at.y + label.y), width: round(label.width ?? 0), height: round(label.height ?? 0) }
        : null,
    };
  });
  return {
    width: round(laid.width ?? 0),
    height: round(laid.height ?? 0),
    nodes,
    edges,
    layout: { engine: 'elkjs', algorithm: 'layered', direction: 'RIGHT', coordinates: 'absolute' },
  };
}
