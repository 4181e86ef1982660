/**
 * Diagrams per definition version, computed once per process. Definitions are immutable (a
 * `key@version` never changes), so an entry is never stale; concurrent first requests share one
 * layout. Bounded: inline definitions are many; the oldest entries go first.
 */
import type { FragmentDefinition } from '../fragments/types.js';
import { layoutGraph, type DiagramLayout } from './layout.js';
import { machineGraph } from './machine-graph.js';

export interface Diagram extends DiagramLayout {
  ref: string;
  key: string;
  version: number;
  title: string;
  machine_id: string;
}

export interface DiagramCache {
  diagramOf(definition: FragmentDefinition): Promise<Diagram>;
  /** How many layouts were computed (not served from the cache); for tests and metrics. */
  readonly computed: number;
}

export function createDiagramCache(maxEntries = 2_000): DiagramCache {
  const entries = new Map<string, Promise<Diagram>>();
  let computed = 0;
  return {
    get computed() {
      return computed;
    },
    diagramOf(definition) {
      const ref = `${definition.key}@${definition.version}`;
      const cached = entries.get(ref);
      if (cached) return cached;
      computed += 1;
      const pending = layoutGraph(machineGraph(definition.machine)).then((layout) => ({
        ref,
        key: definition.key,
        version: definition.version,
        title: definition.title,
        machine_id: definition.machine.id,
        ...layout,
      }));
      // A failed layout is not remembered: the next request tries again.
      pending.catch(() => entries.delete(ref));
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(ref, pending);
      return pending;
    },
  };
}
