import type { RunningJob } from '../platform/job-queue.js';
import type { DueDelivery } from '../persistence/webhook-store.js';
import type { WebhookRelay } from '../relay/webhook-relay.js';
import type { Batcher } from './batcher.js';
import type { DispatchEventJob } from './queues.js';

export interface DispatchEventDeps {
  /** Fans out this job's outbox row together with those of concurrently running jobs (`dispatchOutboxRows`). */
  batcher: Batcher<string, DueDelivery[]>;
  relay: WebhookRelay;
}

/**
 * Fans committed outbox rows out to the subscriptions that want them: the deliveries and the
 * rows' `dispatched` mark are one transaction (shared with other rows dispatched at the same
 * time), then, after commit, each delivery goes to the queue. A row already dispatched is a
 * no-op. If handing over fails, the job retries and the reconciler finds the deliveries due anyway.
 */
export function dispatchEventProcessor(deps: DispatchEventDeps) {
  return async (job: RunningJob<DispatchEventJob>): Promise<void> => {
    const deliveries = await Promise.all(job.data.outboxIds.map((id) => deps.batcher.submit(id)));
    await deps.relay.armDeliveries(deliveries.flat());
  };
}
