/**
 * The worker side of a process (roles all and worker): job processors, and the reconciler that
 * re-arms pending timers from Postgres at start and periodically. Each processor ends by
 * dispatching a command; the HTTP side never runs jobs itself.
 */
import type { Logger } from 'pino';
import type { Core } from './core.js';
import { fireTimerProcessor } from './jobs/fire-timer-job.js';
import { QUEUES } from './jobs/queues.js';
import type { Platform } from './platform/platform.js';

export interface Workers {
  close(): Promise<void>;
}

export interface WorkerOptions {
  /** How often the reconciler re-arms pending timers (it also runs at start). */
  reconcileEveryMs?: number;
}

export async function startWorkers(platform: Platform, core: Core, logger: Logger, options: WorkerOptions = {}): Promise<Workers> {
  platform.jobs.process(QUEUES.timers, fireTimerProcessor({ db: platform.database.db, runner: core.runner, jobs: platform.jobs, logger }), {
    concurrency: 16,
  });

  const reconcile = async () => {
    try {
      const armed = await core.relay.reconcile();
      if (armed > 0) logger.info({ armed }, 'pending timers re-armed');
    } catch (err) {
      logger.warn({ err }, 'timer reconciliation failed; will retry');
    }
  };
  await reconcile();
  const interval = setInterval(() => void reconcile(), options.reconcileEveryMs ?? 60_000);
  interval.unref();

  logger.info({ jobs: platform.jobs.kind }, 'workers started');
  return {
    async close() {
      clearInterval(interval);
      // Processors stop with the job queue (platform.close), which waits for running jobs.
    },
  };
}
