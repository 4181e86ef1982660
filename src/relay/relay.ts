/**
 * The relay hands committed rows to the queue — after commit, never inside a transaction
 * (Redis could succeed while the commit fails). Job id = row id, so handing a row over twice
 * is harmless. Postgres stays the source of truth: `reconcile()` re-arms every pending timer,
 * which is what makes a Redis restart or flush lose nothing. Outbox rows and webhook deliveries
 * go the same way (webhook-relay.ts).
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { CommittedEffects } from '../commands/run-command.js';
import { QUEUES, TIMER_JOB_ATTEMPTS, TIMER_JOB_BACKOFF_MS, type TimerJob } from '../jobs/queues.js';
import type { JobQueue } from '../platform/job-queue.js';
import { createDbClock, type DbClock } from '../persistence/db-clock.js';
import type { Database } from '../persistence/schema.js';
import { listPendingTimers, type PendingTimersCursor } from '../persistence/timer-store.js';
import { createWebhookRelay } from './webhook-relay.js';

export interface RelayDeps {
  db: Kysely<Database>;
  jobs: JobQueue;
  logger: Logger;
  /** Arms delays by the database's clock (this machine's clock plus the learned offset). */
  clock?: DbClock;
  /** A fixed clock for tests that move time (instead of the clock's estimate). */
  now?: () => Date;
}

export interface ReconcileOptions {
  /**
   * A pending timer overdue by more than this is re-armed under a fresh job id
   * (`<timer id>-re<stamp>`) instead of its own. Its own id may be held by a job that will not
   * run soon: active in a worker that died (BullMQ only notices a stalled job after its stalled
   * interval), or failed for good (a failed job keeps its id, so re-adding it is ignored).
   * A duplicate job costs one row read: the processor and the engine make a re-fire a no-op.
   * Default: never (every timer is re-armed under its own id).
   */
  overdueAfterMs?: number;
  /**
   * Only timers due within this long from now (default: all). A periodic pass needs no more
   * than the next few periods: a timer due later whose job was lost is re-armed by a later pass,
   * in time — and a deployment with a million timers due over months does not re-add them all
   * every minute.
   */
  dueWithinMs?: number;
}

const RECONCILE_BATCH = 1_000;

export function createRelay(deps: RelayDeps) {
  const clock = deps.clock ?? createDbClock();
  const now = deps.now ?? clock.now;
  const webhooks = createWebhookRelay({ ...deps, now });
  // Hand-overs run after the command has answered (the caller does not wait for Redis); kept
  // here so shutdown, and tests, can wait for them to reach the queue.
  const inFlight = new Set<Promise<void>>();
  const track = (handOver: Promise<void>) => {
    inFlight.add(handOver);
    void handOver.finally(() => inFlight.delete(handOver));
  };

  /**
   * A delayed job for the timer, due at its `due_at` by the database's clock: BullMQ stores
   * `timestamp + delay` and promotes the job when a worker's `Date.now()` reaches it, so both
   * count from the database's time here, whatever this machine's clock says. A worker whose clock
   * runs fast promotes it early (the processor puts it back for the rest of the wait); one whose
   * clock runs behind promotes due jobs by the database's clock (`followDatabaseClock`).
   */
  async function armTimer(timer: { id: string; caseId: string; dueAt: Date }, jobId = timer.id) {
    const job: TimerJob = { timerId: timer.id, caseId: timer.caseId, dueAt: timer.dueAt.toISOString() };
    const from = now().getTime();
    await deps.jobs.enqueue(QUEUES.timers, {
      id: jobId,
      data: job,
      delayMs: Math.max(0, timer.dueAt.getTime() - from),
      // Due at the database's time, not this machine's (a test's fixed clock keeps BullMQ's own).
      ...(deps.now ? {} : { from }),
      // A throw (database unavailable, pool exhausted) retries soon; the reconciler covers the rest.
      attempts: TIMER_JOB_ATTEMPTS,
      backoffMs: TIMER_JOB_BACKOFF_MS,
    });
  }

  return {
    /** Outbound webhooks: outbox rows and deliveries to the queue, and their reconciler. */
    webhooks,

    /**
     * After commit. The outbox rows of one transaction that a subscription wants go over as one
     * dispatch job (a batch of timer firings is one transaction); each new timer as its own job. A failure here only
     * delays work: the reconcilers re-arm from the rows.
     */
    handOver(committed: CommittedEffects[]): void {
      const events = committed.flatMap((c) => c.pendingOutbox);
      if (events.length > 0) track(webhooks.handOverEvents(events));
      for (const { caseId, effects } of committed) {
        for (const effect of effects) {
          if (effect.type !== 'timer.schedule') continue;
          track(
            armTimer({ id: effect.timer.id, caseId, dueAt: new Date(effect.timer.dueAt) }).catch((err: unknown) =>
              deps.logger.warn({ err, timerId: effect.timer.id }, 'could not arm timer; the reconciler will'),
            ),
          );
        }
      }
    },

    /** After commit: outbox rows of a transaction that wrote no case (a customer's events). */
    handOverOutbox(outboxIds: string[]): void {
      if (outboxIds.length > 0) track(webhooks.handOverEvents(outboxIds));
    },

    /**
     * Resolves when every hand-over started before the call has reached the queue or failed
     * (and been logged); never rejects. Shutdown waits on it before closing the queue.
     */
    async settled(): Promise<void> {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },

    /**
     * Re-arms pending timers (all, or those due within `dueWithinMs`) whose job the queue no
     * longer holds; returns how many were handed to the queue.
     */
    async reconcile(options: ReconcileOptions = {}): Promise<number> {
      // A worker that runs no commands learns the offset here (one statement a pass).
      if (!deps.now) await clock.sync(deps.db);
      const stamp = now().getTime().toString(36);
      // "Due" and "overdue" are decided by the database's clock, in the listing statement.
      const window = { dueWithinMs: options.dueWithinMs, overdueAfterMs: options.overdueAfterMs, at: deps.now?.() };
      let after: PendingTimersCursor | undefined;
      let count = 0;
      for (;;) {
        const batch = await listPendingTimers(deps.db, after, RECONCILE_BATCH, window);
        const arms = batch.map((t) => {
          const dueAt = new Date(t.due_at);
          return { timer: { id: t.id, caseId: t.case_id, dueAt }, jobId: t.overdue ? `${t.id}-re${stamp}` : t.id };
        });
        // A timer whose own job the queue still holds needs nothing; asking costs one round trip per page.
        const held = await deps.jobs.held(QUEUES.timers, arms.filter((a) => a.jobId === a.timer.id).map((a) => a.jobId));
        const lost = arms.filter((a) => !held.has(a.jobId));
        await Promise.all(lost.map((a) => armTimer(a.timer, a.jobId)));
        count += lost.length;
        if (batch.length < RECONCILE_BATCH) return count;
        const last = batch[batch.length - 1]!;
        after = { dueAt: last.due_key, id: last.id };
      }
    },
  };
}

export type Relay = ReturnType<typeof createRelay>;
