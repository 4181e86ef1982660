/**
 * Gathers due timers from concurrently running jobs into batches for `fireTimers`, so that one
 * transaction applies many of them. Batching is natural: a batch starts as soon as a slot is
 * free, and whatever arrives while the slots are busy waits for the next one — no linger delay
 * when the load is light, large batches when it is heavy.
 *
 * A batch holds at most one timer per case; a second timer of a case waits for the next batch
 * (it must see the first one's result). Each submitter gets its own timer's outcome.
 */
import type { DueTimer, TimerOutcome } from '../commands/run-command.js';

export interface TimerBatcherOptions {
  fire: (timers: DueTimer[]) => Promise<TimerOutcome[]>;
  /** Timers per transaction (default 100). */
  maxBatch?: number;
  /** Transactions at once (default 4; each holds one database connection). */
  maxInFlight?: number;
}

interface Waiting {
  timer: DueTimer;
  resolve: (outcome: TimerOutcome) => void;
  reject: (err: unknown) => void;
}

export interface TimerBatcher {
  submit(timer: DueTimer): Promise<TimerOutcome>;
}

export function createTimerBatcher(options: TimerBatcherOptions): TimerBatcher {
  const maxBatch = options.maxBatch ?? 100;
  const maxInFlight = options.maxInFlight ?? 4;
  let waiting: Waiting[] = [];
  let inFlight = 0;

  function takeBatch(): Waiting[] {
    const batch: Waiting[] = [];
    const cases = new Set<string>();
    const rest: Waiting[] = [];
    for (const w of waiting) {
      if (batch.length < maxBatch && !cases.has(w.timer.caseId)) {
        cases.add(w.timer.caseId);
        batch.push(w);
      } else {
        rest.push(w);
      }
    }
    waiting = rest;
    return batch;
  }

  async function runBatch(batch: Waiting[]) {
    try {
      const outcomes = new Map((await options.fire(batch.map((w) => w.timer))).map((o) => [o.timerId, o]));
      for (const w of batch) {
        const outcome = outcomes.get(w.timer.timerId);
        if (outcome) w.resolve(outcome);
        else w.reject(new Error(`no outcome for timer ${w.timer.timerId}`));
      }
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }

  function pump() {
    while (inFlight < maxInFlight && waiting.length > 0) {
      const batch = takeBatch();
      inFlight += 1;
      void runBatch(batch).finally(() => {
        inFlight -= 1;
        pump();
      });
    }
  }

  return {
    submit(timer) {
      return new Promise<TimerOutcome>((resolve, reject) => {
        waiting.push({ timer, resolve, reject });
        pump();
      });
    },
  };
}
