/**
 * The change feed of one process: committed journal entries, read from Postgres in feed order
 * (persistence/feed-store.ts), grouped into one change per case version, with the case's current
 * head and what the access rules need, handed to listeners (the live hub).
 *
 * It reads when woken (this process committed, or another process published a commit) and at
 * least every `pollMs`: a lost wake-up only delays. Reads never overlap; a wake during a read
 * reads again after it. Nothing is read while `idle()` says no one listens; the next `ready()`
 * starts again from the head.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { CaseState } from '../cases/types.js';
import { readCaseHeads, readFeedAfter, readFeedHead, type CaseHeadRow, type FeedRow } from '../persistence/feed-store.js';
import type { Database } from '../persistence/schema.js';
import { accessView, relevanceOf } from './case-access.js';
import { comparePositions, type FeedPosition } from './feed-position.js';

export interface JournalEntryView {
  version: number;
  idx: number;
  type: string;
  actor: { id: string; role: string };
  reason: string | null;
  data: unknown;
  at: string;
}

export interface Relevance {
  users: Set<string>;
  queues: Set<string>;
}

/** One committed case version. */
export interface CaseChange {
  /** The position of its last journal row (its SSE event id). */
  position: FeedPosition;
  caseId: string;
  version: number;
  entries: JournalEntryView[];
  /** The case as it is now (it may be newer than `version`); undefined if it is gone. */
  head: CaseHeadRow | undefined;
  /** What access.ts reads of the case now. */
  view: CaseState | undefined;
  /** Whose inbox and which queues the case is in now, and was in at the last change this process saw. */
  relevance: { now: Relevance; before: Relevance | undefined };
}

export interface ChangeFeedDeps {
  db: Kysely<Database>;
  logger: Logger;
  /** At most this long between reads (default 500 ms). */
  pollMs?: number;
  /** Rows per read (default 1,000). */
  batchRows?: number;
  /** True while nobody listens (no stream is open): no reads. */
  idle?: () => boolean;
}

export type ChangeListener = (changes: CaseChange[]) => void;

/** Cases whose last relevance is remembered (for "it left your list" events). */
const RELEVANCE_MEMORY = 50_000;

export function groupChanges(rows: readonly FeedRow[], heads: Map<string, CaseHeadRow>, before: (caseId: string) => Relevance | undefined): CaseChange[] {
  const byVersion = new Map<string, CaseChange>();
  for (const row of rows) {
    const key = `${row.caseId}\u0000${row.version}`;
    let change = byVersion.get(key);
    if (!change) {
      const head = heads.get(row.caseId);
      const view = head ? accessView(head.access) : undefined;
      change = {
        position: row.position,
        caseId: row.caseId,
        version: row.version,
        entries: [],
        head,
        view,
        relevance: { now: view ? relevanceOf(view) : { users: new Set(), queues: new Set() }, before: before(row.caseId) },
      };
      byVersion.set(key, change);
    }
    if (comparePositions(row.position, change.position) > 0) change.position = row.position;
    change.entries.push({ version: row.version, idx: row.idx, type: row.type, actor: row.actor, reason: row.reason, data: row.data, at: row.at });
  }
  const changes = [...byVersion.values()];
  for (const c of changes) c.entries.sort((a, b) => a.idx - b.idx);
  return changes.sort((a, b) => comparePositions(a.position, b.position));
}

export function createChangeFeed(deps: ChangeFeedDeps) {
  const pollMs = deps.pollMs ?? 500;
  const batchRows = deps.batchRows ?? 1_000;
  const listeners = new Set<ChangeListener>();
  const lastRelevance = new Map<string, Relevance>();
  let cursor: FeedPosition | undefined;
  let starting: Promise<FeedPosition> | undefined;
  let reading: Promise<void> | undefined;
  let again = false;
  let closed = false;
  let stats = { reads: 0, rows: 0, changes: 0 };

  function remember(changes: CaseChange[]) {
    for (const c of changes) {
      lastRelevance.delete(c.caseId);
      lastRelevance.set(c.caseId, c.relevance.now);
    }
    // A Map iterates in insertion order: the first keys are the least recently changed.
    for (const key of lastRelevance.keys()) {
      if (lastRelevance.size <= RELEVANCE_MEMORY) break;
      lastRelevance.delete(key);
    }
  }

  /** Reads rows after `from` and turns them into changes (no listener is told). */
  async function readChanges(from: FeedPosition, limit: number, withBefore: boolean): Promise<{ changes: CaseChange[]; rows: number; last: FeedPosition }> {
    const rows = await readFeedAfter(deps.db, from, limit);
    if (rows.length === 0) return { changes: [], rows: 0, last: from };
    const heads = await readCaseHeads(deps.db, [...new Set(rows.map((r) => r.caseId))]);
    const changes = groupChanges(rows, heads, (id) => (withBefore ? lastRelevance.get(id) : undefined));
    return { changes, rows: rows.length, last: rows[rows.length - 1]!.position };
  }

  async function pumpOnce(): Promise<void> {
    do {
      again = false;
      if (closed) return;
      if (deps.idle?.()) {
        // Nobody listens: forget the cursor, start from the head when someone does.
        cursor = undefined;
        return;
      }
      const from = cursor ?? (await ready());
      const read = await readChanges(from, batchRows, true);
      stats.reads++;
      // A later ready() may have restarted the cursor; keep the furthest one.
      if (cursor && comparePositions(read.last, cursor) > 0) cursor = read.last;
      if (read.changes.length === 0) continue;
      stats.rows += read.rows;
      stats.changes += read.changes.length;
      for (const l of listeners) {
        try {
          l(read.changes);
        } catch (err) {
          deps.logger.error({ err }, 'live: a change listener threw');
        }
      }
      remember(read.changes);
      if (read.rows === batchRows) again = true;
    } while (again);
  }

  function wake(): void {
    if (closed) return;
    if (reading) {
      again = true;
      return;
    }
    reading = pumpOnce()
      .catch((err: unknown) => deps.logger.warn({ err }, 'live: reading the change feed failed; retrying at the next poll'))
      .finally(() => {
        reading = undefined;
        if (again) wake();
      });
  }

  /** Starts (or restarts) from the head when nothing was read yet; resolves to the cursor. */
  async function ready(): Promise<FeedPosition> {
    if (cursor) return cursor;
    starting ??= readFeedHead(deps.db)
      .then((head) => {
        cursor ??= head;
        return cursor;
      })
      .finally(() => {
        starting = undefined;
      });
    return starting;
  }

  const timer = setInterval(wake, pollMs);
  timer.unref();

  return {
    wake,
    ready,
    /** What this process has read up to (undefined while idle). */
    position: (): FeedPosition | undefined => cursor,
    /** For resumes: changes after `from`, without telling listeners. */
    readSince: (from: FeedPosition, limit: number) => readChanges(from, limit, false),
    onChanges(listener: ChangeListener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** Resolves when the read in progress (if any) is done. */
    async settled(): Promise<void> {
      while (reading) await reading;
    },
    stats: () => ({ ...stats }),
    resetStats: () => {
      stats = { reads: 0, rows: 0, changes: 0 };
    },
    close(): void {
      closed = true;
      clearInterval(timer);
      listeners.clear();
    },
  };
}

export type ChangeFeed = ReturnType<typeof createChangeFeed>;
