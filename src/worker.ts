/**
 * The worker side of a process (roles all and worker): job processors (timers, inbound
 * webhooks), and the reconciler that re-arms pending timers and received inbox rows from
 * Postgres at start and periodically. Each processor ends by
 * dispatching a command; the HTTP side never runs jobs itself.
 */
import type { Logger } from 'pino';
import type { Core } from './core.js';
import { createInboxApplier } from './inbound/apply-inbox.js';
import { createInboundSources } from './inbound/inbound-sources.js';
import { applyInboxProcessor } from './jobs/apply-inbox-job.js';
import { fireTimerProcessor } from './jobs/fire-timer-job.js';
import { QUEUES } from './jobs/queues.js';
import type { Platform } from './platform/platform.js';
import { createInboxRelay } from './relay/inbox-relay.js';

export interface Workers {
  close(): Promise<void>;
}

export interface WorkerOptions {
  /** How often the reconciler re-arms pending timers (it also runs at start). Default 60 s. */
  reconcileEveryMs?: number;
  /** Timer jobs run at once in this process (default 16; keep it near the database pool size). */
  timerConcurrency?: number;
  /** Inbox (inbound webhook) jobs run at once in this process (default 16). */
  inboxConcurrency?: number;
}

export async function startWorkers(platform: Platform, core: Core, logger: Logger, options: WorkerOptions = {}): Promise<Workers> {
  const reconcileEveryMs = options.reconcileEveryMs ?? 60_000;
  platform.jobs.process(QUEUES.timers, fireTimerProcessor({ db: platform.database.db, runner: core.runner, jobs: platform.jobs, logger }), {
    concurrency: options.timerConcurrency ?? 16,
  });

  const db = platform.database.db;
  const sources = createInboundSources({ db, secrets: platform.secrets, catalog: core.catalog });
  const applier = createInboxApplier({ db, runner: core.runner, sources, logger });
  platform.jobs.process(QUEUES.inbox, applyInboxProcessor({ applier }), { concurrency: options.inboxConcurrency ?? 16 });
  const inboxRelay = createInboxRelay({ db, jobs: platform.jobs, logger });

  const reconcile = async (overdueAfterMs: number) => {
    try {
      const armed = await core.relay.reconcile({ overdueAfterMs });
      if (armed > 0) logger.info({ armed }, 'pending timers re-armed');
    } catch (err) {
      logger.warn({ err }, 'timer reconciliation failed; will retry');
    }
    try {
      const queued = await inboxRelay.reconcile({ overdueAfterMs });
      if (queued > 0) logger.info({ queued }, 'received inbox rows re-queued');
    } catch (err) {
      logger.warn({ err }, 'inbox reconciliation failed; will retry');
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
