/**
 * Keeps a process's in-memory catalog in step with the versions other processes publish.
 *
 * A runtime publish bumps `catalog_revision` in its own transaction. `sync(db)` reads that one
 * row (a primary-key lookup) and, when it moved past the revision this process last loaded,
 * adds the stored versions it does not hold yet. Nothing depends on a notification arriving: a
 * process that missed every message still reads the revision before it opens a case on the
 * latest version of a template, when a case names a version it does not know, and every
 * `intervalMs` in the background.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { loadStoredDefinitions } from '../persistence/definition-store.js';
import type { Database } from '../persistence/schema.js';
import type { Catalog } from './catalog.js';

export interface CatalogSync {
  /** Reads the revision and loads what was published since; returns the revision now held. */
  sync(db: Kysely<Database>): Promise<number>;
  /** The revision the catalog holds (what the last sync saw). */
  revision(): number;
  /** Periodic sync in the background (unref'd); returns the function that stops it. */
  every(intervalMs: number, db: Kysely<Database>, logger: Logger): () => void;
}

export async function readCatalogRevision(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('catalog_revision').select('revision').where('id', '=', 1).executeTakeFirst();
  return row ? Number(row.revision) : 0;
}

export function createCatalogSync(catalog: Catalog, initialRevision = 0): CatalogSync {
  let held = initialRevision;
  let loading: Promise<void> | undefined;
  async function sync(db: Kysely<Database>): Promise<number> {
    const current = await readCatalogRevision(db);
    if (current <= held) return held;
    // One load at a time per process; a caller that arrives meanwhile waits for it.
    loading ??= (async () => {
      try {
        catalog.add(await loadStoredDefinitions(db));
        held = Math.max(held, current);
      } finally {
        loading = undefined;
      }
    })();
    await loading;
    return held;
  }
  return {
    sync,
    revision: () => held,
    every(intervalMs, db, logger) {
      const timer = setInterval(() => {
        sync(db).catch((err) => logger.warn({ err }, 'catalog sync failed; retrying at the next interval'));
      }, intervalMs);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}
