/**
 * A fragment drawn as its machine, current state marked. The layout comes from the server
 * (GET /v1/cases/:id/fragments/:fid/diagram, elkjs, absolute coordinates): this only draws SVG.
 * Without the diagram route (or on error) the active states are listed instead.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../../api/client';
import type { FragmentView } from '../types';

interface DiagramNode {
  id: string;
  parent: string | null;
  kind: 'atomic' | 'compound' | 'parallel' | 'final' | 'initial';
  label: string;
  task_title: string | null;
  x: number;
  y: number;
  width: number;
  height: number;
}
interface DiagramEdge {
  id: string;
  source: string;
  target: string;
  label: string;
  points: { x: number; y: number }[];
  label_box: { x: number; y: number; width: number; height: number } | null;
}
export interface Diagram {
  width: number;
  height: number;
  nodes: DiagramNode[];
  edges: DiagramEdge[];
}

/** A node is current when it is an active state or an ancestor of one. */
export function isCurrent(nodeId: string, active: string[]): boolean {
  return active.some((a) => a === nodeId || a.startsWith(`${nodeId}.`));
}

const cache = new Map<string, Diagram>();

export function FragmentDiagram({ caseId, fragment }: { caseId: string; fragment: FragmentView }) {
  const key = `${caseId}/${fragment.id}/${fragment.definition}`;
  const [diagram, setDiagram] = useState<Diagram | null | undefined>(cache.get(key));
  useEffect(() => {
    if (cache.has(key)) {
      setDiagram(cache.get(key));
      return;
    }
    let live = true;
    api
      .get<{ diagram: Diagram }>(`/v1/cases/${encodeURIComponent(caseId)}/fragments/${encodeURIComponent(fragment.id)}/diagram`)
      .then((d) => {
        cache.set(key, d.diagram);
        if (live) setDiagram(d.diagram);
      })
      .catch(() => live && setDiagram(null));
    return () => {
      live = false;
    };
  }, [key]);

  const active = fragment.states;
  const activeText = active.length ? active.join(', ') : fragment.status;
  if (!diagram) {
    return (
      <div class="diagram" data-fragment={fragment.id}>
        <p>
          Current state: <strong data-current-states>{activeText}</strong>
        </p>
      </div>
    );
  }
  return (
    <figure class="diagram" data-fragment={fragment.id}>
      <svg viewBox={`0 0 ${Math.max(1, diagram.width)} ${Math.max(1, diagram.height)}`} role="img" aria-label={`${fragment.title}: state machine, current state ${activeText}`}>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" fill="#8c959f" />
          </marker>
        </defs>
        {diagram.nodes.map((n) =>
          n.kind === 'initial' ? (
            <circle class="initial" key={n.id} cx={n.x + n.width / 2} cy={n.y + n.height / 2} r={Math.min(n.width, n.height) / 2} />
          ) : (
            <g class={`node ${n.kind}${n.kind !== 'compound' && n.kind !== 'parallel' && isCurrent(n.id, active) ? ' current' : ''}`} key={n.id} data-state={n.id}>
              <rect x={n.x} y={n.y} width={n.width} height={n.height} rx={n.kind === 'atomic' || n.kind === 'final' ? 8 : 4} />
              {n.kind === 'final' ? <rect x={n.x + 3} y={n.y + 3} width={Math.max(0, n.width - 6)} height={Math.max(0, n.height - 6)} rx={6} /> : null}
              <text x={n.x + 8} y={n.y + 16}>
                {n.label}
              </text>
              {n.task_title ? (
                <text x={n.x + 8} y={n.y + 34} class="task-title">
                  {n.task_title}
                </text>
              ) : null}
              <title>{`${n.id}${isCurrent(n.id, active) ? ' (current)' : ''}${n.task_title ? `: ${n.task_title}` : ''}`}</title>
            </g>
          ),
        )}
        {diagram.edges.map((e) => (
          <g class="edge" key={e.id}>
            <path d={e.points.map((p, i) => `${i ? 'L' : 'M'}${p.x},${p.y}`).join(' ')} marker-end="url(#arrow)" />
            {e.label && e.label_box ? (
              <text x={e.label_box.x} y={e.label_box.y + 12}>
                {e.label}
              </text>
            ) : null}
          </g>
        ))}
      </svg>
      <figcaption>
        Current state: <strong data-current-states>{activeText}</strong>
      </figcaption>
    </figure>
  );
}
