/**
 * The customer-timer half of the relay: the same rules as case timers (relay.ts). After the
 * customer's transaction commits, each new trip wire becomes a delayed job (job id = row id, due at
 * the row's `due_at` by the database's clock); `reconcile()` re-arms every pending row whose job the
 * queue no longer holds, so a Redis flush or restart loses no trip wire. A cancelled row's job may
 * still sit in the queue: the firing finds the row settled and does nothing.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { QUEUES, TIMER_JOB_ATTEMPTS, TIMER_JOB_BACKOFF_MS, type CustomerTimerJob } from '../jobs/queues.js';
import type { JobQueue } from '../platform/job-queue.js';
import type { ArmedCustomerTimer } from '../persistence/customer-timer-store.js';
import { listPendingCustomerTimers } from '../persistence/customer-timer-store.js';
import type { DbClock } from '../persistence/db-clock.js';
import type { Database } from '../persistence/schema.js';
import type { PendingTimersCursor } from '../persistence/timer-store.js';
import type { ReconcileOptions } from './relay.js';

export interface CustomerTimerRelayDeps {
  db: Kysely<Database>;
  jobs: JobQueue;
  logger: Logger;
  clock: DbClock;
  /** A fixed clock for tests that move time. */
  now?: () => Date;
}

const BATCH = 1_000;

export function createCustomerTimerRelay(deps: CustomerTimerRelayDeps) {
  const now = deps.now ?? deps.clock.now;
  const inFlight = new Set<Promise<void>>();

  async function arm(timer: ArmedCustomerTimer, jobId = timer.id) {
    const data: CustomerTimerJob = { timerId: timer.id, customerId: timer.customerId, dueAt: timer.dueAt };
    const from = now().getTime();
    await deps.jobs.enqueue(QUEUES.customerTimers, {
      id: jobId,
      data,
      delayMs: Math.max(0, Date.parse(timer.dueAt) - from),
      ...(deps.now ? {} : { from }),
      attempts: TIMER_JOB_ATTEMPTS,
      backoffMs: TIMER_JOB_BACKOFF_MS,
    });
  }

  return {
    /** After commit; never throws (a failure is logged: the reconciler re-arms from the row). */
    handOver(timers: ArmedCustomerTimer[]): void {
      for (const timer of timers) {
        const p = arm(timer).catch((err: unknown) => deps.logger.warn({ err, timerId: timer.id }, 'could not arm customer timer; the reconciler will'));
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
    },

    async settled(): Promise<void> {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },

    /** Re-arms pending customer timers the queue lost; returns how many were handed over. */
    async reconcile(options: ReconcileOptions = {}): Promise<number> {
      const stamp = now().getTime().toString(36);
      const window = { dueWithinMs: options.dueWithinMs, overdueAfterMs: options.overdueAfterMs, at: deps.now?.() };
      let after: PendingTimersCursor | undefined;
      let count = 0;
      for (;;) {
        const batch = await listPendingCustomerTimers(deps.db, after, BATCH, window);
        const arms = batch.map((t) => ({
          timer: { id: t.id, customerId: t.customer_id, dueAt: new Date(t.due_at).toISOString() },
          jobId: t.overdue ? `${t.id}-re${stamp}` : t.id,
        }));
        const held = await deps.jobs.held(QUEUES.customerTimers, arms.filter((a) => a.jobId === a.timer.id).map((a) => a.jobId));
        const lost = arms.filter((a) => !held.has(a.jobId));
        await Promise.all(lost.map((a) => arm(a.timer, a.jobId)));
        count += lost.length;
        if (batch.length < BATCH) return count;
        const last = batch[batch.length - 1]!;
        after = { dueAt: last.due_key, id: last.id };
      }
    },
  };
}

export type CustomerTimerRelay = ReturnType<typeof createCustomerTimerRelay>;
