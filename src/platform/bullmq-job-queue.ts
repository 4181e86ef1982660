import { DelayedError, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { assertJobId, type JobProcessor, type JobQueue, type JobToAdd } from './job-queue.js';
import { inSpan, SpanKind, traceHeaders } from './tracing.js';

/** Where a job's data carries the W3C trace context of the code that queued it (only when tracing). */
const TRACE_FIELD = '_trace';

export interface BullmqJobQueueOptions {
  redisUrl: string;
  /** BullMQ key prefix (never ioredis `keyPrefix`). */
  prefix: string;
  logger: Logger;
  /** How long close() waits for running jobs before it drops the connections (default 5 s). */
  closeTimeoutMs?: number;
  /** How often a worker whose clock is behind the database's promotes due delayed jobs (default 250 ms). */
  catchUpEveryMs?: number;
}

/** This machine's clock must be behind the database's by more than this before delayed jobs are promoted by hand. */
const CATCH_UP_AFTER_MS = 500;
/** BullMQ's delayed set scores a job `due ms * 0x1000 + sequence`. */
const DELAYED_SCORE = 0x1000;

/** Resolves when `work` settles or after `ms`, whichever comes first; says which. */
async function within(ms: number, work: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const done = work.then(
    () => true as const,
    () => true as const,
  );
  const result = await Promise.race([done, timedOut]);
  clearTimeout(timer);
  return result;
}

/** A job as BullMQ adds it: the trace context in its data (when tracing), the retry policy. */
function toBullJob<T>(queue: string, job: JobToAdd<T>, trace: Record<string, string>) {
  const data = Object.keys(trace).length > 0 && job.data && typeof job.data === 'object' ? { ...job.data, [TRACE_FIELD]: trace } : job.data;
  return {
    name: queue,
    data,
    opts: {
      jobId: job.id,
      delay: job.delayMs && job.delayMs > 0 ? job.delayMs : 0,
      // BullMQ's due time is `timestamp + delay`, compared with the promoting worker's clock.
      ...(job.from !== undefined ? { timestamp: job.from } : {}),
      attempts: job.attempts ?? 1,
      backoff: { type: 'exponential', delay: job.backoffMs ?? 1000 },
      removeOnComplete: true,
      removeOnFail: { count: 10_000 },
    },
  };
}

/**
 * Queue mode. Producers fail fast when Redis is down (no offline queue), so a request never
 * hangs on Redis; workers retry forever (`maxRetriesPerRequest: null`, as BullMQ requires).
 */
export function createBullmqJobQueue(options: BullmqJobQueueOptions): JobQueue {
  const producer = new Redis(options.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    lazyConnect: false,
  });
  producer.on('error', (err) => options.logger.debug({ err }, 'redis producer connection error'));
  const workerConnection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  workerConnection.on('error', (err) => options.logger.debug({ err }, 'redis worker connection error'));

  const queues = new Map<string, Queue>();
  const workers: Worker[] = [];
  const processed: string[] = [];
  let catchUp: NodeJS.Timeout | undefined;
  let closing = false;
  /** The database's clock, once followed: a machine behind it schedules by it (see followDatabaseClock). */
  let dbNow: (() => number) | undefined;

  /** Moves the delayed jobs the database's clock says are due to wait (a bounded page per queue and pass). */
  async function promoteDue(dbNow: number) {
    for (const name of processed) {
      const due = await producer.zrangebyscore(`${options.prefix}:${name}:delayed`, '-inf', `(${(dbNow + 1) * DELAYED_SCORE}`, 'LIMIT', 0, 500);
      await Promise.all(
        due.map(async (id) => {
          // Raced by another worker (promoted, removed): nothing to do.
          await (await queueFor(name).getJob(id))?.promote().catch(() => undefined);
        }),
      );
    }
  }

  function queueFor(name: string): Queue {
    let queue = queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: producer, prefix: options.prefix });
      queue.on('error', (err) => options.logger.warn({ err, queue: name }, 'queue error'));
      queues.set(name, queue);
    }
    return queue;
  }

  return {
    kind: 'bullmq',

    async enqueue<T>(queue: string, job: JobToAdd<T>) {
      assertJobId(job.id);
      const added = toBullJob(queue, job, traceHeaders());
      await queueFor(queue).add(added.name, added.data, added.opts);
    },

    async enqueueMany<T>(queue: string, jobs: JobToAdd<T>[]) {
      if (jobs.length === 0) return;
      for (const job of jobs) assertJobId(job.id);
      const trace = traceHeaders();
      // One MULTI of the add scripts: each job is still added unless its id is known.
      await queueFor(queue).addBulk(jobs.map((job) => toBullJob(queue, job, trace)));
    },

    async held(queue: string, ids: string[]) {
      if (ids.length === 0) return new Set<string>();
      // A job is a hash under `<prefix>:<queue>:<id>` from add until it is removed (on completion here).
      const pipeline = producer.pipeline();
      for (const id of ids) pipeline.exists(`${options.prefix}:${queue}:${id}`);
      const results = (await pipeline.exec()) ?? [];
      const held = new Set<string>();
      results.forEach(([err, exists], i) => {
        if (err) throw err;
        if (exists === 1) held.add(ids[i]!);
      });
      return held;
    },

    followDatabaseClock(clock: () => number) {
      if (catchUp) clearInterval(catchUp);
      dbNow = clock;
      let running = false;
      catchUp = setInterval(() => {
        const now = clock();
        if (running || closing || now - Date.now() <= CATCH_UP_AFTER_MS || producer.status !== 'ready') return;
        running = true;
        promoteDue(now)
          .catch((err: unknown) => options.logger.debug({ err }, 'could not promote due delayed jobs'))
          .finally(() => (running = false));
      }, options.catchUpEveryMs ?? 250);
      catchUp.unref();
    },

    process<T>(queue: string, processor: JobProcessor<T>, processOptions?: { concurrency?: number }) {
      processed.push(queue);
      const worker = new Worker(
        queue,
        async (job, token) => {
          const { [TRACE_FIELD]: parent, ...data } = (job.data ?? {}) as Record<string, unknown>;
          // The job continues the trace of whatever queued it (a request, a command, another job).
          const result = await inSpan(`job ${queue}`, { kind: SpanKind.CONSUMER, attributes: { 'messaging.destination.name': queue, 'messaging.message.id': job.id! }, ...(parent ? { parent: parent as Record<string, string> } : {}) }, () =>
            processor({ id: job.id!, queue, data: data as T, attempt: job.attemptsMade + 1 }),
          );
          if (result && result.deferMs > 0) {
            // Back to the delayed set under its own id. BullMQ promotes a delayed job when the
            // promoting worker's Date.now() reaches its score, so the score is this machine's
            // clock plus the wait (a duration, measured by the caller on the database's clock) —
            // or the database's clock, when this machine is behind it and promotes by that one.
            await job.moveToDelayed(Math.max(Date.now(), dbNow?.() ?? 0) + Math.ceil(result.deferMs), token);
            throw new DelayedError();
          }
        },
        { connection: workerConnection, prefix: options.prefix, concurrency: processOptions?.concurrency ?? 8 },
      );
      worker.on('error', (err) => options.logger.warn({ err, queue }, 'worker error'));
      worker.on('failed', (job, err) => {
        const retrying = job !== undefined && job.attemptsMade < (job.opts.attempts ?? 1);
        options.logger.warn(
          { err, queue, jobId: job?.id, attempt: job?.attemptsMade },
          retrying ? 'job failed; it is retried after a backoff' : 'job failed for good; the reconciler hands its row over again',
        );
      });
      workers.push(worker);
    },

    async counts(queue: string) {
      // LLEN / ZCARD per state: the cost does not grow with the number of jobs.
      return queueFor(queue).getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed');
    },

    async forget(queue: string, ids: string[]) {
      let removed = 0;
      for (const id of await this.held(queue, ids)) removed += await queueFor(queue).remove(id).catch(() => 0);
      return removed;
    },

    async ping() {
      if (producer.status !== 'ready') throw new Error(`redis connection is ${producer.status}`);
      await producer.ping();
    },

    async close() {
      closing = true;
      if (catchUp) clearInterval(catchUp);
      // With Redis gone, BullMQ's close() waits forever; running jobs are at-least-once anyway
      // (a stalled job runs again), so after the grace period the connections are dropped.
      const graceful = await within(
        options.closeTimeoutMs ?? 5_000,
        Promise.allSettled([...workers.map((w) => w.close()), ...[...queues.values()].map((q) => q.close())]),
      );
      if (!graceful) options.logger.warn('job queue did not close in time; dropping Redis connections');
      producer.disconnect();
      workerConnection.disconnect();
    },
  };
}
