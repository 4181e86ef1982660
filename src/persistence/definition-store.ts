/**
 * Stored definitions: every template and fragment version Tessera has ever run is kept, so a
 * running case never loses its definition when files change. Published versions are immutable.
 */
import type { Kysely } from 'kysely';
import type { FragmentDefinition, FragmentRef } from '../fragments/types.js';
import { canonicalHash } from '../templates/canonical-hash.js';
import { compareWithStored, type LoadedCatalog } from '../templates/compare-with-stored.js';
import type { LoadProblem } from '../templates/load-problem.js';
import type { CaseTemplate } from '../templates/types.js';
import type { Database } from './schema.js';

export interface StoredDefinitions {
  templates: CaseTemplate[];
  fragments: FragmentDefinition[];
}

/**
 * Stores the versions in `loaded` that are new, and reports any loaded version whose content
 * differs from the stored copy. The stored copy always wins (insert-or-ignore on key@version), so
 * a file edited under a published version changes nothing until its version is bumped.
 */
export async function publishDefinitions(db: Kysely<Database>, loaded: LoadedCatalog): Promise<LoadProblem[]> {
  // Versions published at runtime count too: a file may not change a captured version either.
  const stored = await db.selectFrom('definitions').select(['kind', 'key', 'version', 'hash']).where('source', 'in', LIBRARY_SOURCES).execute();
  const problems = compareWithStored(loaded, {
    templates: stored.filter((r) => r.kind === 'template'),
    fragments: stored.filter((r) => r.kind === 'fragment'),
  });
  const rows = [
    ...loaded.templates.map((t) => ({ kind: 'template' as const, body: t as { key: string; version: number } })),
    ...loaded.fragments.map((f) => ({ kind: 'fragment' as const, body: f as { key: string; version: number } })),
  ];
  if (rows.length > 0) {
    await db
      .insertInto('definitions')
      .values(
        rows.map((r) => ({
          kind: r.kind,
          key: r.body.key,
          version: r.body.version,
          hash: canonicalHash(r.body),
          source: 'file',
          body: JSON.stringify(r.body),
        })),
      )
      .onConflict((oc) => oc.doNothing())
      .execute();
  }
  return problems;
}

/**
 * Sources of library definitions: `file` (case-templates/, published at start) and `published`
 * (a template draft published at runtime, with the fragments it promoted into the library).
 */
export const LIBRARY_SOURCES = ['file', 'published'] as const;

/** Every stored template and library fragment (inline ones are loaded on demand). */
export async function loadStoredDefinitions(db: Kysely<Database>): Promise<StoredDefinitions> {
  const rows = await db.selectFrom('definitions').select(['kind', 'body']).where('source', 'in', LIBRARY_SOURCES).execute();
  return {
    templates: rows.filter((r) => r.kind === 'template').map((r) => r.body as CaseTemplate),
    fragments: rows.filter((r) => r.kind === 'fragment').map((r) => r.body as FragmentDefinition),
  };
}

/** Fragment definitions by `key@version`, for refs the in-memory catalog does not hold. */
export async function loadFragmentDefinitions(
  db: Kysely<Database>,
  refs: readonly FragmentRef[],
): Promise<FragmentDefinition[]> {
  const pairs = refs.map((ref) => {
    const at = ref.lastIndexOf('@');
    return { key: ref.slice(0, at), version: Number(ref.slice(at + 1)) };
  });
  if (pairs.length === 0) return [];
  const rows = await db
    .selectFrom('definitions')
    .select('body')
    .where('kind', '=', 'fragment')
    .where((eb) => eb.or(pairs.map((p) => eb.and([eb('key', '=', p.key), eb('version', '=', p.version)]))))
    .execute();
  return rows.map((r) => r.body as FragmentDefinition);
}
