/**
 * The cases this process wrote last, as it wrote them: a group of commands whose cases are all
 * here decides on these copies and sends its write (with BEGIN and COMMIT) in one round trip,
 * instead of locking and loading the rows first (run-command.ts, runGroup).
 *
 * A copy is only a guess that nothing else changed the case since: the write statement checks
 * that the case row (and its customer's row, which the decision read too) is still the very row
 * version the copy came from — the system column `xmin`, which any UPDATE of the row changes,
 * whoever makes it (another process, an erasure that masks the row, a merge, a hand-written
 * SQL update) — and leaves the case out otherwise (case-store.ts, saveDecisions). The command
 * is then decided again on the locked row, so a stale copy costs a decision and a round trip,
 * never a wrong write.
 *
 * A case another writer changes too (a second API process, the worker's timers and inbox) would
 * make its copies stale again and again. So a case whose copy was stale is marked shared, and no
 * copy of it is kept; when a later lock-and-load finds its row still the version this process
 * wrote last (nobody else wrote it since), the mark goes and copies are kept again.
 */
import { BoundedMap } from '../cases/engine-cache.js';
import type { CaseState } from '../cases/types.js';
import type { CustomerState } from '../customers/types.js';
import type { ReadFrom } from '../persistence/case-store.js';

export type { ReadFrom };

export interface WrittenCase {
  state: CaseState;
  customer?: CustomerState;
  readFrom: ReadFrom;
}

export interface WrittenCases {
  get(caseId: string): WrittenCase | undefined;
  /** This process committed `copy` (its `readFrom` is the row version just written). */
  written(caseId: string, copy: WrittenCase): void;
  /** A lock-and-load read the case at row version `caseXmin`. */
  loaded(caseId: string, caseXmin: string): void;
  /** A copy of the case was stale: another writer changes it too. */
  stale(caseId: string): void;
  /** The case was written by a path that keeps no copy: any copy held is stale now. */
  forget(caseIds: Iterable<string>): void;
}

/**
 * At most `limit` copies, least recently used forgotten first. The copies are never handed out
 * to be changed: the engine decides on a clone (cases/decide.ts), and answers only read them.
 */
export function createWrittenCases(limit: number): WrittenCases {
  const copies = new BoundedMap<string, WrittenCase>(limit);
  /** Cases marked shared -> the row version this process wrote last ('' before it wrote one). */
  const shared = new BoundedMap<string, string>(limit * 4);
  return {
    get: (caseId) => copies.get(caseId),
    written(caseId, copy) {
      if (shared.get(caseId) === undefined) copies.set(caseId, copy);
      else shared.set(caseId, copy.readFrom.caseXmin);
    },
    loaded(caseId, caseXmin) {
      if (shared.get(caseId) === caseXmin) shared.delete(caseId);
    },
    stale(caseId) {
      copies.delete(caseId);
      shared.set(caseId, '');
    },
    forget(caseIds) {
      for (const id of caseIds) copies.delete(id);
    },
  };
}
