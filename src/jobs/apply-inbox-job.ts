import type { InboxApplier } from '../inbound/apply-inbox.js';
import type { RunningJob } from '../platform/job-queue.js';
import { isDatabaseUnavailable } from '../persistence/driver-errors.js';
import { createBatcher, type Batcher } from './batcher.js';
import type { InboxJob } from './queues.js';

/** One job's outcome in a batch: applied (or nothing left to apply), or the error its job retries on. */
export type InboxJobResult = { ok: true } | { ok: false; error: unknown };

/**
 * Gathers inbox jobs into batches, as timer firings are (jobs/batcher.ts): one batch applies the
 * rows of many keys together (applier.applyBatch: one read of every walk, then rounds sharing a
 * case lookup, group-committed commands and one settle). A batch holds one job per lane, and a
 * lane's next job waits for the batch holding its previous one, so two walks of one key never run
 * side by side in this process. When a batch fails for another reason than the database being
 * gone, each of its rows is applied alone, so only its own failure reaches a job.
 */
export function createInboxBatcher(deps: { applier: InboxApplier; maxBatch?: number; maxInFlight?: number }): Batcher<InboxJob, InboxJobResult> {
  return createBatcher<InboxJob, InboxJobResult>({
    key: (job) => (job.lane === undefined ? `row:${job.inboxId}` : `lane:${job.lane}`),
    maxBatch: deps.maxBatch ?? 100,
    maxInFlight: deps.maxInFlight ?? 4,
    async run(jobs) {
      try {
        await deps.applier.applyBatch(jobs.map((j) => j.inboxId));
        return jobs.map(() => ({ ok: true as const }));
      } catch (err) {
        if (isDatabaseUnavailable(err)) return jobs.map(() => ({ ok: false as const, error: err }));
        const alone = await Promise.allSettled(jobs.map((j) => deps.applier.apply(j.inboxId)));
        return alone.map((o) => (o.status === 'fulfilled' ? { ok: true as const } : { ok: false as const, error: o.reason as unknown }));
      }
    },
  });
}

/**
 * Applies an accepted inbound message, in a batch with the other jobs running. The job is a
 * hint: the applier re-reads the row and no-ops when it was applied already. Throws only on
 * transient failures (the job retries).
 */
export function applyInboxProcessor(deps: { batcher: Batcher<InboxJob, InboxJobResult> }) {
  return async (job: RunningJob<InboxJob>): Promise<void> => {
    const result = await deps.batcher.submit(job.data);
    if (!result.ok) throw result.error;
  };
}
