/**
 * Diagrams per definition version, computed once per process. Definitions are immutable (a
 * `key@version` never changes), so an entry is never stale; concurrent first requests share one
 * layout. Bounded: inline definitions are many; the oldest entries go first.
 *
 * Layouts are computed by `runLayout` — in the API, a worker thread (elk-worker.ts) — so a first
 * request for a diagram never blocks the event loop; and `warm` lays out the library's versions
 * in the background when the definitions load, so most first requests find them ready.
 */
import type { FragmentDefinition } from '../fragments/types.js';
import { layoutGraph, layoutHere, type DiagramLayout } from './layout.js';
import { machineGraph } from './machine-graph.js';
import type { RunLayout } from './elk-worker.js';

export interface Diagram extends DiagramLayout {
  ref: string;
  key: string;
  version: number;
  title: string;
  machine_id: string;
}

export interface DiagramCache {
  diagramOf(definition: FragmentDefinition): Promise<Diagram>;
  /**
   * Lays out these definitions one at a time (so requests interleave), skipping cached ones.
   * Never rejects: a definition that fails is laid out again on request.
   */
  warm(definitions: Iterable<FragmentDefinition>): Promise<void>;
  /** Whether the layout of `key@version` is already done or under way. */
  has(ref: string): boolean;
  /** How many layouts were computed (not served from the cache); for tests and metrics. */
  readonly computed: number;
}

export function createDiagramCache(options: { maxEntries?: number; runLayout?: RunLayout } = {}): DiagramCache {
  const { maxEntries = 2_000, runLayout = layoutHere } = options;
  const entries = new Map<string, Promise<Diagram>>();
  let computed = 0;
  const cache: DiagramCache = {
    get computed() {
      return computed;
    },
    has: (ref) => entries.has(ref),
    diagramOf(definition) {
      const ref = `${definition.key}@${definition.version}`;
      const cached = entries.get(ref);
      if (cached) return cached;
      computed += 1;
      const pending = layoutGraph(machineGraph(definition.machine), runLayout).then((layout) => ({
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
    async warm(definitions) {
      for (const definition of definitions) {
        if (entries.has(`${definition.key}@${definition.version}`)) continue;
        await cache.diagramOf(definition).catch(() => undefined);
      }
    },
  };
  return cache;
}
