import type { Logger } from 'pino';
import { assertJobId, type JobProcessor, type JobQueue, type JobToAdd } from './job-queue.js';

interface Pending {
  queue: string;
  job: JobToAdd;
  attempt: number;
  timer?: NodeJS.Timeout;
}

/**
 * Embedded mode: jobs run in this process on timers. Nothing here is durable — it does not
 * need to be: every job points at a Postgres row, and the relay re-enqueues pending rows at start.
 */
export function createInProcessJobQueue(options: { logger: Logger }): JobQueue {
  const processors = new Map<string, JobProcessor>();
  const pending = new Map<string, Pending>();
  const running = new Set<Promise<void>>();
  let closed = false;

  const key = (queue: string, id: string) => `${queue}\u0000${id}`;

  function schedule(entry: Pending, delayMs: number) {
    if (closed) return;
    const dueAt = Date.now() + Math.max(0, delayMs);
    const arm = (ms: number) => {
      entry.timer = setTimeout(() => {
        // Node's timers run on a monotonic clock and may fire a millisecond before Date.now()
        // reaches the due time; a delayed job never runs early by the wall clock.
        const early = dueAt - Date.now();
        if (early > 0) arm(early);
        else run(entry);
      }, ms);
      entry.timer.unref?.();
    };
    arm(Math.max(0, delayMs));
  }

  function run(entry: Pending) {
    const processor = processors.get(entry.queue);
    if (!processor) {
      entry.timer = undefined; // picked up when a processor registers
      return;
    }
    const execution = processor({ id: entry.job.id, queue: entry.queue, data: entry.job.data, attempt: entry.attempt })
      .then((result) => {
        // Deferred ("not yet"): the same entry runs again later, as the same try.
        if (result && result.deferMs > 0) schedule(entry, Math.ceil(result.deferMs));
        else pending.delete(key(entry.queue, entry.job.id));
      })
      .catch((err: unknown) => {
        const attempts = entry.job.attempts ?? 1;
        options.logger.warn({ err, queue: entry.queue, jobId: entry.job.id, attempt: entry.attempt }, 'job failed');
        if (entry.attempt < attempts) {
          entry.attempt += 1;
          schedule(entry, (entry.job.backoffMs ?? 1000) * 2 ** (entry.attempt - 2));
        } else {
          pending.delete(key(entry.queue, entry.job.id));
        }
      })
      .finally(() => running.delete(execution));
    running.add(execution);
  }

  return {
    kind: 'in-process',

    async enqueue<T>(queue: string, job: JobToAdd<T>) {
      assertJobId(job.id);
      if (closed || pending.has(key(queue, job.id))) return;
      const entry: Pending = { queue, job, attempt: 1 };
      pending.set(key(queue, job.id), entry);
      schedule(entry, job.delayMs ?? 0);
    },

    async enqueueMany<T>(queue: string, jobs: JobToAdd<T>[]) {
      for (const job of jobs) await this.enqueue(queue, job);
    },

    async held(queue: string, ids: string[]) {
      return new Set(ids.filter((id) => pending.has(key(queue, id))));
    },

    process<T>(queue: string, processor: JobProcessor<T>) {
      processors.set(queue, processor as JobProcessor);
      for (const entry of pending.values()) {
        if (entry.queue === queue && entry.timer === undefined) schedule(entry, 0);
      }
    },

    async ping() {},

    async close() {
      closed = true;
      for (const entry of pending.values()) clearTimeout(entry.timer);
      pending.clear();
      await Promise.allSettled([...running]);
    },
  };
}
