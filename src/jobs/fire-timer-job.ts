import type { Logger } from 'pino';
import type { CommandRunner } from '../commands/run-command.js';
import type { JobQueue, RunningJob } from '../platform/job-queue.js';
import { findTimer } from '../persistence/timer-store.js';
import type { Kysely } from 'kysely';
import type { Database } from '../persistence/schema.js';
import { QUEUES, type TimerJob } from './queues.js';

export interface FireTimerDeps {
  db: Kysely<Database>;
  runner: CommandRunner;
  jobs: JobQueue;
  logger: Logger;
  now?: () => Date;
}

/**
 * Processes a due timer. The job is only a hint: the row decides. A timer that is no longer
 * pending is skipped; one that arrives early (clock skew) is put back for the rest of its delay;
 * the engine ignores a timer whose state was left. Applied at most once in effect because the
 * command removes it from the case in the same transaction that marks the row fired.
 */
export function fireTimerProcessor(deps: FireTimerDeps) {
  const now = deps.now ?? (() => new Date());
  return async (job: RunningJob<TimerJob>): Promise<void> => {
    const timer = await findTimer(deps.db, job.data.timerId);
    if (!timer || timer.status !== 'pending') return;
    const wait = new Date(timer.due_at).getTime() - now().getTime();
    if (wait > 0) {
      // Re-arming under the same id is ignored while this job is active, so use a suffixed id.
      await deps.jobs.enqueue(QUEUES.timers, { id: `${timer.id}-r${job.attempt}-${Date.now()}`, data: job.data, delayMs: wait });
      return;
    }
    await deps.runner.run({
      caseId: timer.case_id,
      command: { type: 'timer.fire', timerId: timer.id },
      actor: { id: 'timer', role: 'system' },
      respond: ({ case: c }) => ({ statusCode: 200, body: { case_id: c.id, version: c.version } }),
    });
  };
}
