/**
 * Published versions are immutable: running cases use the stored copy of `key@version`.
 * Given what the catalog loaded and what is already stored for the same keys, say which
 * loaded definitions would silently change a published version. Pure: the server reads the
 * stored rows (or their hashes) and decides what to do with the problems.
 */
import type { FragmentDefinition } from '../fragments/types.js';
import type { CatalogOrigin } from './build-catalog.js';
import { canonicalHash } from './canonical-hash.js';
import type { LoadProblem } from './load-problem.js';
import type { CaseTemplate } from './types.js';

/** A stored version: the definition itself, or only its `canonicalHash`. */
export type StoredVersion<T> = T | { key: string; version: number; hash: string };

export interface LoadedCatalog {
  templates: readonly CaseTemplate[];
  fragments: readonly FragmentDefinition[];
  /** From `loadCatalog`; names the file in problems (otherwise `<catalog>`). */
  origins?: readonly CatalogOrigin[];
}

export interface StoredCatalog {
  templates?: readonly StoredVersion<CaseTemplate>[];
  fragments?: readonly StoredVersion<FragmentDefinition>[];
}

/**
 * One `VERSION_CHANGED` problem per loaded template or fragment whose key@version is stored
 * with different content. New versions, unchanged versions and stored versions that are no
 * longer in the files are not problems.
 */
export function compareWithStored(loaded: LoadedCatalog, stored: StoredCatalog): LoadProblem[] {
  const fileOf = (kind: CatalogOrigin['kind'], ref: string) =>
    loaded.origins?.find((o) => o.kind === kind && o.ref === ref)?.file ?? '<catalog>';
  const compare = (
    kind: CatalogOrigin['kind'],
    items: readonly (CaseTemplate | FragmentDefinition)[],
    storedItems: readonly StoredVersion<CaseTemplate | FragmentDefinition>[],
  ): LoadProblem[] => {
    const storedHashes = new Map(storedItems.map((s) => [`${s.key}@${s.version}`, 'hash' in s ? s.hash : canonicalHash(s)]));
    return items.flatMap((item): LoadProblem[] => {
      const ref = `${item.key}@${item.version}`;
      const storedHash = storedHashes.get(ref);
      if (storedHash === undefined || storedHash === canonicalHash(item)) return [];
      return [
        {
          code: 'VERSION_CHANGED',
          file: fileOf(kind, ref),
          path: '/version',
          message: `${kind} ${ref} differs from the stored version; bump \`version\` to publish a change`,
        },
      ];
    });
  };
  return [
    ...compare('template', loaded.templates, stored.templates ?? []),
    ...compare('fragment', loaded.fragments, stored.fragments ?? []),
  ];
}
