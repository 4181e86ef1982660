/**
 * The outbound half of the relay. After commit, the outbox rows of a transaction become one dispatch
 * job (job id = the first row's id; the reconciler hands over any row left pending on its own, job
 * id = its id); dispatching creates the deliveries and hands each one over as a delivery job (job id =
 * `<delivery id>-<attempt>`: a retry cannot reuse the id of the job that is still running it, and
 * the claim in the processor makes a duplicate a no-op). The rows are the truth: `reconcile()`
 * re-enqueues outbox rows not yet dispatched and every pending delivery (at its next attempt time), which is
 * what makes a Redis flush lose nothing.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { QUEUES, WEBHOOK_JOB_ATTEMPTS, WEBHOOK_JOB_BACKOFF_MS, type DeliverWebhookJob, type DispatchEventJob } from '../jobs/queues.js';
import type { JobQueue } from '../platform/job-queue.js';
import type { Database } from '../persistence/schema.js';
import { listPendingDeliveries, listPendingOutbox, type DueDelivery } from '../persistence/webhook-store.js';

export interface WebhookRelayDeps {
  db: Kysely<Database>;
  jobs: JobQueue;
  logger: Logger;
  now?: () => Date;
}

const BATCH = 1_000;

export function createWebhookRelay(deps: WebhookRelayDeps) {
  const now = deps.now ?? (() => new Date());

  function dispatch(outboxIds: string[], jobId = outboxIds[0]!) {
    const data: DispatchEventJob = { outboxIds };
    return deps.jobs.enqueue(QUEUES.outbox, { id: jobId, data, attempts: WEBHOOK_JOB_ATTEMPTS, backoffMs: WEBHOOK_JOB_BACKOFF_MS });
  }

  function arm(delivery: DueDelivery, suffix = '') {
    const data: DeliverWebhookJob = { deliveryId: delivery.id, attempt: delivery.attempt };
    return deps.jobs.enqueue(QUEUES.webhooks, {
      id: `${delivery.id}-${delivery.attempt}${suffix}`,
      data,
      delayMs: Math.max(0, delivery.nextAttemptAt.getTime() - now().getTime()),
      attempts: WEBHOOK_JOB_ATTEMPTS,
      backoffMs: WEBHOOK_JOB_BACKOFF_MS,
    });
  }

  return {
    /**
     * After the command commits. Never rejects: a failure is logged and only delays delivery
     * (the reconciler re-enqueues). Resolves when the job is in the queue (or failed).
     */
    handOverEvents(outboxIds: string[]): Promise<void> {
      if (outboxIds.length === 0) return Promise.resolve();
      return dispatch(outboxIds).catch((err: unknown) => deps.logger.warn({ err, outboxIds }, 'could not hand over outbox rows; the reconciler will'));
    },

    /**
     * After the row that scheduled them commits (fan-out, a failed attempt, a replay). `suffix`
     * gives the job a fresh id (for re-arming from inside the job that holds the plain one).
     */
    async armDeliveries(deliveries: DueDelivery[], suffix = ''): Promise<void> {
      await Promise.all(deliveries.map((d) => arm(d, suffix)));
    },

    /**
     * Re-enqueues outbox rows not yet dispatched and every pending delivery (delayed to its next
     * attempt; the claim re-checks). Work overdue by more
     * than `overdueAfterMs` goes under a suffixed job id: its original job may be stuck in a dead
     * worker or failed for good (its id would make a re-add a no-op). A duplicate job is harmless:
     * dispatch skips a dispatched row, and the claim skips an attempt already made.
     * Default: never suffixed.
     */
    async reconcile(options: { overdueAfterMs?: number } = {}): Promise<{ events: number; deliveries: number }> {
      const started = now().getTime();
      const stamp = `-re${started.toString(36)}`;
      const overdueBefore = options.overdueAfterMs === undefined ? -Infinity : started - options.overdueAfterMs;
      const suffixFor = (due: Date) => (due.getTime() < overdueBefore ? stamp : '');
      let events = 0;
      let afterSeq: string | undefined;
      for (;;) {
        // A periodic pass leaves rows younger than its period alone: their own dispatch job (one
        // per transaction, named after its first row) is almost surely still on its way.
        const createdBefore = options.overdueAfterMs ? new Date(started - options.overdueAfterMs) : undefined;
        const batch = await listPendingOutbox(deps.db, afterSeq, BATCH, createdBefore);
        await Promise.all(batch.map((row) => dispatch([row.id], `${row.id}${suffixFor(new Date(row.created_at as unknown as Date))}`)));
        events += batch.length;
        if (batch.length < BATCH) break;
        afterSeq = batch[batch.length - 1]!.seq;
      }
      let deliveries = 0;
      let afterId: string | undefined;
      for (;;) {
        const batch = await listPendingDeliveries(deps.db, afterId, BATCH);
        await Promise.all(batch.map((d) => arm(d, suffixFor(d.nextAttemptAt))));
        deliveries += batch.length;
        if (batch.length < BATCH) break;
        afterId = batch[batch.length - 1]!.id;
      }
      return { events, deliveries };
    },
  };
}

export type WebhookRelay = ReturnType<typeof createWebhookRelay>;
