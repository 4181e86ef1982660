import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { JobQueue, RunningJob } from '../platform/job-queue.js';
import type { Database } from '../persistence/schema.js';
import { findTimer } from '../persistence/timer-store.js';
import { QUEUES, TIMER_JOB_ATTEMPTS, TIMER_JOB_BACKOFF_MS, type TimerJob } from './queues.js';
import type { DueTimer, TimerOutcome } from '../commands/run-command.js';
import type { Batcher } from './batcher.js';

export interface FireTimerDeps {
  db: Kysely<Database>;
  /** Applies the timer in a batch with other due timers (one transaction for many cases). */
  batcher: Batcher<DueTimer, TimerOutcome>;
  jobs: JobQueue;
  logger: Logger;
  now?: () => Date;
}

/**
 * Processes a due timer. The job is only a hint: the row and the case decide. One that arrives
 * early (clock skew) is put back for the rest of its delay; a timer that is no longer pending is a
 * no-op (the engine ignores a timer whose state was left or that already fired). Applied at most once in
 * effect, however many jobs point at the row (handOver and the reconciler racing, a stalled job
 * re-run, two workers): the batch transaction locks the case, the engine removes the timer from
 * the case and the same statement marks the row fired, so the second one finds nothing to apply.
 * The job completes only after that transaction committed.
 * Throws only on transient failures (the job retries; the reconciler re-arms after that).
 */
export function fireTimerProcessor(deps: FireTimerDeps) {
  const now = deps.now ?? (() => new Date());
  return async (job: RunningJob<TimerJob>): Promise<void> => {
    // A job that knows its due time goes straight to the command, whose transaction re-checks the
    // timer under the case lock (one round trip less per timer); an older job reads the row first.
    let timer: { id: string; case_id: string; due_at: string | Date } | undefined;
    if (job.data.dueAt !== undefined) {
      timer = { id: job.data.timerId, case_id: job.data.caseId, due_at: job.data.dueAt };
    } else {
      const row = await findTimer(deps.db, job.data.timerId);
      if (!row || row.status !== 'pending') return;
      timer = row;
    }
    const wait = new Date(timer.due_at).getTime() - now().getTime();
    if (wait > 0) {
      // Re-arming under the same id is ignored while this job is active, so use a suffixed id.
      await deps.jobs.enqueue(QUEUES.timers, {
        id: `${timer.id}-r${job.attempt}-${Date.now()}`,
        data: job.data,
        delayMs: wait,
        attempts: TIMER_JOB_ATTEMPTS,
        backoffMs: TIMER_JOB_BACKOFF_MS,
      });
      return;
    }
    const result = await deps.batcher.submit({ timerId: timer.id, caseId: timer.case_id });
    // Retrying cannot make a vanished case appear (the row outlived its case: log, move on).
    if (result.outcome === 'case_missing') deps.logger.warn({ timerId: timer.id, caseId: timer.case_id }, 'timer of a missing case skipped');
    // Deterministic: firing it again would decide the same. The case journals `timer.failed`.
    if (result.outcome === 'spent') deps.logger.warn({ timerId: timer.id, caseId: timer.case_id, code: result.code }, 'timer spent without effect; see the case journal (timer.failed)');
    if (result.outcome === 'failed') throw result.error;
  };
}
