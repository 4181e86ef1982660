/**
 * The worker side of a process (roles all and worker): job processors (timers, outbox fan-out,
 * webhook attempts, inbound webhooks), and the reconciler that re-arms pending timers,
 * undispatched outbox rows, due webhook deliveries and received inbox rows from Postgres at start
 * and periodically. Each processor ends by
 * dispatching a command; the HTTP side never runs jobs itself.
 */
import type { Logger } from 'pino';
import type { WebhookConfig } from './config.js';
import type { DueTimer } from './commands/run-command.js';
import type { Core } from './core.js';
import { deliverWebhookProcessor } from './jobs/deliver-webhook-job.js';
import { dispatchEventProcessor } from './jobs/dispatch-event-job.js';
import { applyInboxProcessor, createInboxBatcher } from './jobs/apply-inbox-job.js';
import { fireTimerProcessor } from './jobs/fire-timer-job.js';
import { QUEUES } from './jobs/queues.js';
import { createBatcher } from './jobs/batcher.js';
import type { Platform } from './platform/platform.js';
import { dispatchOutboxRows } from './persistence/webhook-store.js';
import type { SendWebhook } from './webhooks/send-webhook.js';
import type { HostResolver } from './webhooks/ssrf-guard.js';
import { assembleServices, type Services } from './services.js';
import { fireCustomerTimerProcessor } from './jobs/fire-customer-timer-job.js';
import { findCustomerTimer } from './persistence/customer-timer-store.js';
import { refreshDeviationLatencies } from './jobs/refresh-population-latency.js';
import { foldGoalAttainment } from './persistence/goal-attainment.js';
import { createEraser } from './privacy/erase-personal-data.js';
import { runRetention } from './privacy/retention.js';

export interface Workers {
  close(): Promise<void>;
}

export interface WorkerOptions {
  /** How often the reconciler re-arms pending timers (it also runs at start). Default 60 s. */
  reconcileEveryMs?: number;
  /** Timers per firing transaction (default 250). */
  timerBatch?: number;
  /** Firing transactions at once (default 4; each holds a database connection). */
  timerTransactions?: number;
  /** Outbound webhook delivery settings (default: the configuration defaults, no allowlist). */
  webhooks?: WebhookConfig;
  /** Seams for tests: how host names resolve, and how a request is sent. */
  resolveHost?: HostResolver;
  sendWebhook?: SendWebhook;
  /** Webhook attempts run at once in this process (default 16). */
  webhookConcurrency?: number;
  /** Inbox (inbound webhook) jobs run at once in this process (default inboxBatch × inboxTransactions). */
  inboxConcurrency?: number;
  /** Inbox rows' jobs per apply batch (default 100). */
  inboxBatch?: number;
  /** Apply batches at once (default 4). */
  inboxTransactions?: number;
  /** How often the SLA attainment deltas are folded into the daily rollup (default 5 s). */
  attainmentFoldEveryMs?: number;
  /** How often the population latency L_n of `fallback: population` rules is recomputed (default 6 h). */
  latencyRefreshEveryMs?: number;
  /** The services shared with this process's HTTP side (server.ts); absent: assembled here. */
  services?: Services;
}

const WEBHOOK_DEFAULTS: WebhookConfig = { allowlist: [], maxAttempts: 10, backoffBaseMs: 30_000, backoffMaxMs: 21_600_000, timeoutMs: 10_000 };

export async function startWorkers(platform: Platform, core: Core, logger: Logger, options: WorkerOptions = {}): Promise<Workers> {
  const reconcileEveryMs = options.reconcileEveryMs ?? 60_000;
  const timerBatch = options.timerBatch ?? 250;
  const timerTransactions = options.timerTransactions ?? 4;
  // A worker whose clock runs slow still starts delayed jobs on time by the database's clock.
  platform.jobs.followDatabaseClock?.(() => core.clock.now().getTime());
  const batcher = createBatcher({ run: core.runner.fireTimers, key: (t: DueTimer) => t.caseId, maxBatch: timerBatch, maxInFlight: timerTransactions });
  // Enough jobs at once to fill every transaction's batch; a job is only a wait on its batch.
  platform.jobs.process(QUEUES.timers, fireTimerProcessor({ db: platform.database.db, batcher, logger, now: core.now }), {
    concurrency: timerBatch * timerTransactions,
  });

  const webhooks = options.webhooks ?? WEBHOOK_DEFAULTS;
  const db = platform.database.db;
  const services =
    options.services ??
    assembleServices({
      database: platform.database,
      jobs: platform.jobs,
      secrets: platform.secrets,
      core,
      logger,
      webhookAllowlist: webhooks.allowlist,
      ...(options.resolveHost ? { resolveHost: options.resolveHost } : {}),
    });
  // Every command with outbound events leaves outbox rows: fanned out in batches, like timers.
  const dispatcher = createBatcher({ run: (ids: string[]) => dispatchOutboxRows(db, ids), maxBatch: 500, maxInFlight: 2 });
  platform.jobs.process(QUEUES.outbox, dispatchEventProcessor({ batcher: dispatcher, relay: core.relay.webhooks }), { concurrency: 200 });
  platform.jobs.process(
    QUEUES.webhooks,
    deliverWebhookProcessor({
      db,
      relay: core.relay.webhooks,
      secrets: platform.secrets,
      guard: services.ssrfGuard,
      logger,
      maxAttempts: webhooks.maxAttempts,
      backoffBaseMs: webhooks.backoffBaseMs,
      backoffMaxMs: webhooks.backoffMaxMs,
      timeoutMs: webhooks.timeoutMs,
      ...(options.sendWebhook ? { send: options.sendWebhook } : {}),
      onOutcome: (status) => core.metrics.webhookAttempts.inc({ outcome: status === 'pending' ? 'retry' : status }),
    }),
    { concurrency: options.webhookConcurrency ?? 16 },
  );
  // Inbound rows are applied in batches too: enough jobs at once to fill every batch.
  const inboxBatch = options.inboxBatch ?? 100;
  const inboxTransactions = options.inboxTransactions ?? 4;
  const inboxBatcher = createInboxBatcher({ applier: services.applier, maxBatch: inboxBatch, maxInFlight: inboxTransactions });
  platform.jobs.process(QUEUES.inbox, applyInboxProcessor({ batcher: inboxBatcher }), { concurrency: options.inboxConcurrency ?? inboxBatch * inboxTransactions });
  const { inboxRelay } = services;
  // Behaviour-deviation trip wires: each job is a command on its customer (no batching: a trip
  // wire fires once per customer per buying cycle).
  platform.jobs.process(QUEUES.customerTimers, fireCustomerTimerProcessor({
      fire: core.fireDeviationTimer,
      isPending: async (id) => (await findCustomerTimer(db, id))?.status === 'pending',
      logger,
      now: core.now,
    }), { concurrency: 16 });
  const latencyEveryMs = options.latencyRefreshEveryMs ?? 6 * 3_600_000;
  const refreshLatencies = async () => {
    try {
      const refreshed = await refreshDeviationLatencies({ db, catalog: core.catalog, maxAgeMs: latencyEveryMs, now: core.now });
      if (refreshed > 0) logger.info({ series: refreshed }, 'population latency refreshed');
    } catch (err) {
      logger.warn({ err }, 'population latency refresh failed; will retry');
    }
  };

  // Erasures a crash left half done are finished; templates' retention erases old closed cases.
  const eraser = createEraser({ db, jobs: platform.jobs, logger, metrics: core.metrics, forgetCases: core.runner.forgetCopies });
  const privacy = async () => {
    try {
      const resumed = await eraser.resume();
      if (resumed > 0) logger.info({ resumed }, 'interrupted erasures finished');
      const retained = await runRetention({ db, catalog: core.catalog, eraser, now: core.now });
      if (retained > 0) logger.info({ cases: retained }, 'retention erased personal data of closed cases');
    } catch (err) {
      logger.warn({ err }, 'erasure pass failed; will retry');
    }
  };

  const reconcile = async (overdueAfterMs: number, timersDueWithinMs?: number) => {
    try {
      const armed = await core.relay.reconcile({ overdueAfterMs, ...(timersDueWithinMs !== undefined ? { dueWithinMs: timersDueWithinMs } : {}) });
      if (armed > 0) logger.info({ armed }, 'pending timers re-armed');
    } catch (err) {
      logger.warn({ err }, 'timer reconciliation failed; will retry');
    }
    try {
      const outbound = await core.relay.webhooks.reconcile({ overdueAfterMs });
      if (outbound.events + outbound.deliveries > 0) logger.info(outbound, 'undispatched events and due webhook deliveries re-enqueued');
    } catch (err) {
      logger.warn({ err }, 'webhook reconciliation failed; will retry');
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
  // for timers overdue by a whole period (a lost job, or a backlog: a duplicate is a no-op), and
  // look only at timers already due: one whose job Redis lost while this worker ran fires at most
  // a period late, and a pass costs next to nothing however many timers are pending.
  await reconcile(0);
  // A pass still running at close must finish before the queue and database close under it.
  let running: Promise<void> = refreshLatencies().then(privacy);
  const interval = setInterval(() => {
    running = running.then(() => reconcile(reconcileEveryMs, 0)).then(refreshLatencies).then(privacy);
  }, reconcileEveryMs);
  interval.unref();

  // The SLA attainment rollup: deltas the goal_views triggers appended, folded into days.
  const foldEveryMs = options.attainmentFoldEveryMs ?? 5_000;
  let folding: Promise<void> = Promise.resolve();
  const fold = setInterval(() => {
    folding = folding.then(() =>
      foldGoalAttainment(db).then(
        () => undefined,
        (err: unknown) => logger.warn({ err }, 'goal attainment fold failed; will retry'),
      ),
    );
  }, foldEveryMs);
  fold.unref();

  logger.info({ jobs: platform.jobs.kind }, 'workers started');
  return {
    async close() {
      clearInterval(interval);
      clearInterval(fold);
      await running;
      await folding;
      // Processors stop with the job queue (platform.close), which waits for running jobs.
    },
  };
}
