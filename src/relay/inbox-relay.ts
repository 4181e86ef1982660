/**
 * Hands committed inbox rows to the apply queue (job id = row id), and re-arms every row still
 * `received` from Postgres — at worker start and periodically — so a Redis flush or a lost job
 * loses no message. A duplicate job is harmless: the applier skips rows that moved on.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { INBOX_JOB_ATTEMPTS, INBOX_JOB_BACKOFF_MS, inboxLane, QUEUES, type InboxJob } from '../jobs/queues.js';
import type { JobQueue } from '../platform/job-queue.js';
import { listReceived } from '../persistence/inbox-store.js';
import type { Database } from '../persistence/schema.js';

const RECONCILE_BATCH = 1_000;

/** A row to queue: its id, and its source and key (for the job's lane). */
export interface QueuedRow {
  id: string;
  source: string;
  correlationKey: string;
}

export function createInboxRelay(deps: { db: Kysely<Database>; jobs: JobQueue; logger: Logger; now?: () => Date }) {
  const now = deps.now ?? (() => new Date());

  const jobOf = (row: QueuedRow): InboxJob => ({ inboxId: row.id, lane: inboxLane(row.source, row.correlationKey) });

  async function enqueue(row: QueuedRow, jobId = row.id) {
    await deps.jobs.enqueue(QUEUES.inbox, { id: jobId, data: jobOf(row), attempts: INBOX_JOB_ATTEMPTS, backoffMs: INBOX_JOB_BACKOFF_MS });
  }

  return {
    /** After the row committed. A failure only delays the row: the reconciler re-arms it. */
    handOver(row: QueuedRow, jobId = row.id): void {
      enqueue(row, jobId).catch((err: unknown) => deps.logger.warn({ err, inboxId: row.id }, 'could not queue inbox row; the reconciler will'));
    },

    /** handOver for the rows of one accept batch, in one round trip. */
    handOverMany(rows: QueuedRow[]): void {
      if (rows.length === 0) return;
      const jobs = rows.map((row) => ({ id: row.id, data: jobOf(row), attempts: INBOX_JOB_ATTEMPTS, backoffMs: INBOX_JOB_BACKOFF_MS }));
      deps.jobs.enqueueMany(QUEUES.inbox, jobs).catch((err: unknown) => deps.logger.warn({ err, rows: rows.length }, 'could not queue inbox rows; the reconciler will'));
    },

    /**
     * Re-arms every `received` row; returns how many. A row received more than `overdueAfterMs`
     * ago gets a fresh job id (`<id>-re<stamp>`): its own job may be stuck in a dead worker or
     * failed for good (a failed job keeps its id, so re-adding it would be ignored).
     */
    async reconcile(options: { overdueAfterMs?: number } = {}): Promise<number> {
      const started = now().getTime();
      const stamp = started.toString(36);
      const overdueBefore = options.overdueAfterMs === undefined ? -Infinity : started - options.overdueAfterMs;
      let after: string | undefined;
      let count = 0;
      for (;;) {
        const batch = await listReceived(deps.db, after, RECONCILE_BATCH);
        await Promise.all(
          batch.map((r) => {
            // A received row always has its key (rows without one are stored unmatched).
            const row = { id: r.id, source: r.source, correlationKey: r.correlation_key ?? '' };
            return enqueue(row, new Date(r.received_at).getTime() < overdueBefore ? `${r.id}-re${stamp}` : r.id);
          }),
        );
        count += batch.length;
        if (batch.length < RECONCILE_BATCH) return count;
        after = String(batch[batch.length - 1]!.seq);
      }
    },
  };
}

export type InboxRelay = ReturnType<typeof createInboxRelay>;
