import type { Logger } from 'pino';
import type { JobResult, RunningJob } from '../platform/job-queue.js';
import type { CustomerTimerJob } from './queues.js';
import type { DeviationFireOutcome } from '../commands/fire-deviation-timer.js';

/** Waits up to this long are slept in the job rather than deferred through the queue. */
const SHORT_WAIT_MS = 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface FireCustomerTimerDeps {
  /** The command that fires a trip wire under the customer's lock (commands/fire-deviation-timer.ts). */
  fire: (timer: { timerId: string; customerId: string }) => Promise<DeviationFireOutcome>;
  /** Whether the row is still pending (asked only before deferring an early job). */
  isPending: (timerId: string) => Promise<boolean>;
  logger: Logger;
  /** The database's time as this process estimates it; only for the cheap early check. */
  now: () => Date;
}

/**
 * Processes a due customer timer. The job is a hint: the command locks the customer and the row,
 * re-checks the due time by the database's clock and does nothing for a row that is no longer
 * pending — so a cancelled trip wire's old job, a re-armed duplicate or a stalled job re-run are
 * no-ops. Throws only on transient failures (the job retries; the reconciler covers the rest).
 */
export function fireCustomerTimerProcessor(deps: FireCustomerTimerDeps) {
  return async (job: RunningJob<CustomerTimerJob>): Promise<JobResult> => {
    const wait = Date.parse(job.data.dueAt) - deps.now().getTime();
    // An early job (promoted, or a fast clock) of a row a re-arm cancelled is done now, instead of
    // waiting in Redis until the old due time to find that out.
    if (wait > SHORT_WAIT_MS) return (await deps.isPending(job.data.timerId)) ? { deferMs: wait } : undefined;
    if (wait > 0) await sleep(wait);
    const result = await deps.fire({ timerId: job.data.timerId, customerId: job.data.customerId });
    if (result.outcome === 'early') return { deferMs: Math.max(1, result.dueInMs) };
    if (result.outcome === 'customer_missing') deps.logger.warn({ timerId: job.data.timerId, customerId: job.data.customerId }, 'customer timer of a missing customer skipped');
    return undefined;
  };
}
