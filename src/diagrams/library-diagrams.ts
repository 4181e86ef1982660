/**
 * The diagrams of the library, laid out when the definitions load (not on a user's first
 * request): the latest version of every library fragment and every version a template names
 * (cases run the versions their template pins, which may be older than the latest).
 */
import type { Catalog } from '../commands/catalog.js';
import type { FragmentDefinition } from '../fragments/types.js';

export function libraryDefinitions(catalog: Catalog): FragmentDefinition[] {
  const byRef = new Map<string, FragmentDefinition>();
  const add = (d: FragmentDefinition | undefined) => {
    if (d && !d.key.startsWith('inline:')) byRef.set(`${d.key}@${d.version}`, d);
  };
  // Template pins first: those are what the cases on screen run.
  for (const t of catalog.templates()) for (const ref of [...t.defaultFragments, ...t.discretionaryFragments]) add(catalog.fragment(ref));
  for (const d of catalog.fragments()) add(d);
  return [...byRef.values()];
}
