/**
 * The worker side of a process (roles all and worker): job processors, and the reconciler that
 * re-arms pending timers from Postgres at start and periodically. Each processor ends by
 * dispatching a command; the HTTP side never runs jobs itself.
 */
import type { Logger } from 'pino';
import type { Core } from './core.js';
import { fireTimerProcessor } from './jobs/fire-timer-job.js';
import { QUEUES } from './jobs/queues.js';
import { createTimerBatcher } from './jobs/timer-batcher.js';
import type { Platform } from './platform/platform.js';

export interface Workers {
  close(): Promise<void>;
}

export interface WorkerOptions {
  /** How often the reconciler re-arms pending timers (it also runs at start). Default 60 s. */
  reconcileEveryMs?: number;
  /** Timers per firing transaction (default 100). */
  timerBatch?: number;
  /** Firing transactions at once (default 4; each holds a database connection). */
  timerTransactions?: number;
}

export async function startWorkers(platform: Platform, core: Core, logger: Logger, options: WorkerOptions = {}): Promise<Workers> {
  const reconcileEveryMs = options.reconcileEveryMs ?? 60_000;
  const timerBatch = options.timerBatch ?? 100;
  const timerTransactions = options.timerTransactions ?? 4;
  const batcher = createTimerBatcher({ fire: core.runner.fireTimers, maxBatch: timerBatch, maxInFlight: timerTransactions });
  // Enough jobs at once to fill every transaction's batch; a job is only a wait on its batch.
  platform.jobs.process(QUEUES.timers, fireTimerProcessor({ db: platform.database.db, batcher, jobs: platform.jobs, logger }), {
    concurrency: timerBatch * timerTransactions,
  });

  const reconcile = async (overdueAfterMs: number) => {
    try {
      const armed = await core.relay.reconcile({ overdueAfterMs });
      if (armed > 0) logger.info({ armed }, 'pending timers re-armed');
    } catch (err) {
      logger.warn({ err }, 'timer reconciliation failed; will retry');
    }
  };
  // At start, any overdue timer gets a fresh job: its own may sit active in a worker that just
  // died (BullMQ would only take it back after the stalled interval). Later passes do that only
  // for timers overdue by a whole period (a lost job, or a backlog: a duplicate is a no-op).
  await reconcile(0);
  const interval = setInterval(() => void reconcile(reconcileEveryMs), reconcileEveryMs);
  interval.unref();

  logger.info({ jobs: platform.jobs.kind }, 'workers started');
  return {
    async close() {
      clearInterval(interval);
      // Processors stop with the job queue (platform.close), which waits for running jobs.
    },
  };
}
