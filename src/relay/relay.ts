/**
 * The relay hands committed rows to the queue — after commit, never inside a transaction
 * (Redis could succeed while the commit fails). Job id = row id, so handing a row over twice
 * is harmless. Postgres stays the source of truth: `reconcile()` re-arms every pending timer,
 * which is what makes a Redis restart or flush lose nothing.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { CommittedEffects } from '../commands/run-command.js';
import { QUEUES, type TimerJob } from '../jobs/queues.js';
import type { JobQueue } from '../platform/job-queue.js';
import type { Database } from '../persistence/schema.js';
import { listPendingTimers } from '../persistence/timer-store.js';

export interface RelayDeps {
  db: Kysely<Database>;
  jobs: JobQueue;
  logger: Logger;
  now?: () => Date;
}

const RECONCILE_BATCH = 1_000;

export function createRelay(deps: RelayDeps) {
  const now = deps.now ?? (() => new Date());

  async function armTimer(timer: { id: string; caseId: string; dueAt: Date }) {
    const job: TimerJob = { timerId: timer.id, caseId: timer.caseId };
    await deps.jobs.enqueue(QUEUES.timers, { id: timer.id, data: job, delayMs: Math.max(0, timer.dueAt.getTime() - now().getTime()) });
  }

  return {
    /** After commit. A failure here only delays work: the reconciler re-arms from the rows. */
    handOver(committed: CommittedEffects): void {
      for (const effect of committed.effects) {
        if (effect.type !== 'timer.schedule') continue;
        armTimer({ id: effect.timer.id, caseId: committed.caseId, dueAt: new Date(effect.timer.dueAt) }).catch((err: unknown) =>
          deps.logger.warn({ err, timerId: effect.timer.id }, 'could not arm timer; the reconciler will'),
        );
      }
    },

    /** Re-arms every pending timer; returns how many were handed to the queue. */
    async reconcile(): Promise<number> {
      let after: { dueAt: Date; id: string } | undefined;
      let count = 0;
      for (;;) {
        const batch = await listPendingTimers(deps.db, after, RECONCILE_BATCH);
        await Promise.all(batch.map((t) => armTimer({ id: t.id, caseId: t.case_id, dueAt: new Date(t.due_at) })));
        count += batch.length;
        if (batch.length < RECONCILE_BATCH) return count;
        const last = batch[batch.length - 1]!;
        after = { dueAt: new Date(last.due_at), id: last.id };
      }
    },
  };
}

export type Relay = ReturnType<typeof createRelay>;
