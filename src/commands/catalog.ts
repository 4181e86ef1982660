/**
 * The in-memory catalog of definitions a process runs with: every stored template and library
 * fragment version, plus inline fragments authored at runtime (loaded on demand, bounded).
 * Definitions are immutable, so caching them never serves stale content.
 */
import type { FragmentDefinition, FragmentRef } from '../fragments/types.js';
import type { CaseTemplate } from '../templates/types.js';

const MAX_INLINE = 5_000;

export interface Catalog {
  /** The given version, or the latest when `version` is omitted. */
  template(key: string, version?: number): CaseTemplate | undefined;
  /** Latest version of each template. */
  templates(): CaseTemplate[];
  fragment(ref: FragmentRef): FragmentDefinition | undefined;
  /** Latest version of each library fragment. */
  fragments(): FragmentDefinition[];
  /** Adds an inline definition fetched from the store. */
  remember(definition: FragmentDefinition): void;
  /**
   * Adds versions published since the catalog was built (learning/catalog-sync.ts). Versions
   * are immutable, so one already held is kept as it is; the latest lists are recomputed.
   */
  add(input: { templates: readonly CaseTemplate[]; fragments: readonly FragmentDefinition[] }): void;
}

const refOf = (d: { key: string; version: number }) => `${d.key}@${d.version}`;

function latest<T extends { key: string; version: number }>(items: Iterable<T>): T[] {
  const byKey = new Map<string, T>();
  for (const item of items) {
    const seen = byKey.get(item.key);
    if (!seen || seen.version < item.version) byKey.set(item.key, item);
  }
  return [...byKey.values()].sort((a, b) => a.key.localeCompare(b.key));
}

export function createCatalog(input: { templates: CaseTemplate[]; fragments: FragmentDefinition[] }): Catalog {
  const templates = new Map(input.templates.map((t) => [refOf(t), t]));
  const library = new Map(input.fragments.map((f) => [refOf(f), f]));
  const inline = new Map<string, FragmentDefinition>();
  let latestTemplates = latest(templates.values());
  let latestFragments = latest(library.values());

  return {
    template(key, version) {
      if (version !== undefined) return templates.get(`${key}@${version}`);
      return latestTemplates.find((t) => t.key === key);
    },
    templates: () => latestTemplates,
    fragment: (ref) => library.get(ref) ?? inline.get(ref),
    fragments: () => latestFragments,
    remember(definition) {
      if (inline.size >= MAX_INLINE) inline.delete(inline.keys().next().value!);
      inline.set(refOf(definition), definition);
    },
    add(more) {
      for (const t of more.templates) if (!templates.has(refOf(t))) templates.set(refOf(t), t);
      for (const f of more.fragments) if (!library.has(refOf(f))) library.set(refOf(f), f);
      latestTemplates = latest(templates.values());
      latestFragments = latest(library.values());
    },
  };
}
