import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { JobResult, RunningJob } from '../platform/job-queue.js';
import type { Database } from '../persistence/schema.js';
import { findTimer } from '../persistence/timer-store.js';
import type { TimerJob } from './queues.js';
import type { DueTimer, TimerOutcome } from '../commands/run-command.js';
import type { Batcher } from './batcher.js';

/** Waits up to this long are slept in the job rather than deferred through the queue. */
const SHORT_WAIT_MS = 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface FireTimerDeps {
  db: Kysely<Database>;
  /** Applies the timer in a batch with other due timers (one transaction for many cases). */
  batcher: Batcher<DueTimer, TimerOutcome>;
  logger: Logger;
  /** The database's time as this process estimates it (core.now); only for the cheap early check. */
  now: () => Date;
}

/**
 * Processes a due timer. The job is only a hint: the row and the case decide. A job that arrives
 * before its row is due by the database's clock (this machine's clock runs fast, or another
 * machine armed it) is deferred — the same job, back in the delayed set for the rest of the
 * wait — and never fired early: the estimate here saves a transaction, and the batch
 * transaction checks again against the time its own statement read. A timer that is no longer
 * pending is a no-op (the engine ignores a timer whose state was left or that already fired).
 * Applied at most once in effect, however many jobs point at the row (handOver and the reconciler
 * racing, a stalled job re-run, two workers): the batch transaction locks the case, the engine
 * removes the timer from the case and the same statement marks the row fired, so the second one
 * finds nothing to apply. The job completes only after that transaction committed.
 * Throws only on transient failures (the job retries; the reconciler re-arms after that).
 */
export function fireTimerProcessor(deps: FireTimerDeps) {
  return async (job: RunningJob<TimerJob>): Promise<JobResult> => {
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
    const dueAt = new Date(timer.due_at);
    const due = { timerId: timer.id, caseId: timer.case_id, dueAt: dueAt.toISOString() };
    const wait = dueAt.getTime() - deps.now().getTime();
    // A wait as short as the clock estimate's error is slept here: a trip back to Redis costs more.
    if (wait > SHORT_WAIT_MS) return { deferMs: wait };
    if (wait > 0) await sleep(wait);
    let result = await deps.batcher.submit(due);
    if (result.outcome === 'early' && result.dueInMs <= SHORT_WAIT_MS) {
      await sleep(result.dueInMs);
      result = await deps.batcher.submit(due);
    }
    if (result.outcome === 'early') return { deferMs: result.dueInMs };
    // Retrying cannot make a vanished case appear (the row outlived its case: log, move on).
    if (result.outcome === 'case_missing') deps.logger.warn({ timerId: timer.id, caseId: timer.case_id }, 'timer of a missing case skipped');
    // Deterministic: firing it again would decide the same. The case journals `timer.failed`.
    if (result.outcome === 'spent') deps.logger.warn({ timerId: timer.id, caseId: timer.case_id, code: result.code }, 'timer spent without effect; see the case journal (timer.failed)');
    if (result.outcome === 'failed') throw result.error;
  };
}
