/**
 * The job seam: one interface, two implementations — BullMQ on Redis (queue mode) and an
 * in-process runner (embedded mode). Jobs are hints: every job points at a Postgres row
 * (timer, outbox, inbox) whose id is the job id, and its processor re-checks the row, so a
 * job that runs twice or after its row moved on is a no-op.
 */
export interface JobToAdd<T = unknown> {
  /** Row id; also the dedup key. BullMQ forbids `:` and all-digit ids. */
  id: string;
  data: T;
  delayMs?: number;
  /**
   * The clock `delayMs` counts from (epoch ms; default this machine's `Date.now()`): the relay
   * passes the database's time, so a delayed job is due at the same instant for every worker,
   * whatever the clock of the process that armed it.
   */
  from?: number;
  /** Total tries before the job fails for good (default 1). */
  attempts?: number;
  /** Base of exponential backoff between tries (default 1000 ms). */
  backoffMs?: number;
}

export interface RunningJob<T = unknown> {
  id: string;
  queue: string;
  data: T;
  /** 1 on the first try. */
  attempt: number;
}

/**
 * What a processor returns: nothing (done), or `{ deferMs }` — "not yet": the same job (same id)
 * runs again after that long, and the try does not count against `attempts`. Timers use it
 * for a job that arrived before its row is due by the database's clock.
 */
export type JobResult = void | { deferMs: number };

export type JobProcessor<T = unknown> = (job: RunningJob<T>) => Promise<JobResult>;

export interface JobQueue {
  readonly kind: 'bullmq' | 'in-process';
  /** Adds a job unless one with the same id is still known to the queue (then it is a no-op). */
  enqueue<T>(queue: string, job: JobToAdd<T>): Promise<void>;
  /** {@link enqueue} for several jobs of one queue, in one round trip where the queue can. */
  enqueueMany<T>(queue: string, jobs: JobToAdd<T>[]): Promise<void>;
  /**
   * Which of these job ids the queue still holds (waiting, delayed, active, or failed and kept),
   * in one round trip: lets a reconciler hand over only what the queue lost.
   */
  held(queue: string, ids: string[]): Promise<Set<string>>;
  /**
   * Promotes delayed jobs by the database's clock (`dbNow`, epoch ms) when this machine's clock
   * runs behind it. BullMQ promotes a delayed job once the worker's own clock reaches its due time,
   * so a worker whose clock is slow would start every job late by its skew. Optional: a queue
   * that runs its own timers against the same clock (in process) needs nothing.
   */
  followDatabaseClock?(dbNow: () => number): void;
  /** Starts taking jobs of `queue` (roles all and worker only). */
  process<T>(queue: string, processor: JobProcessor<T>, options?: { concurrency?: number }): void;
  /** Jobs of `queue` by state (waiting, active, delayed, failed, ...), for metrics: O(1) reads per state. */
  counts?(queue: string): Promise<Record<string, number>>;
  /** Removes these jobs of `queue` wherever they are (waiting, delayed, failed and kept); a running one is left. For erasure. */
  forget?(queue: string, ids: string[]): Promise<number>;
  /** Rejects when the transport is unavailable. */
  ping(): Promise<void>;
  /** Stops taking jobs, waits for running ones, closes connections. */
  close(): Promise<void>;
}

export function assertJobId(id: string): void {
  if (id.includes(':') || /^\d+$/.test(id)) {
    throw new Error(`job id "${id}" is not allowed: it may not contain ':' or be all digits`);
  }
}
