import type { InboxApplier } from '../inbound/apply-inbox.js';
import type { RunningJob } from '../platform/job-queue.js';
import type { InboxJob } from './queues.js';

/**
 * Applies an accepted inbound message. The job is a hint: the applier re-reads the row and
 * no-ops when it was applied already. Throws only on transient failures (the job retries).
 */
export function applyInboxProcessor(deps: { applier: InboxApplier }) {
  return async (job: RunningJob<InboxJob>): Promise<void> => {
    await deps.applier.apply(job.data.inboxId);
  };
}
