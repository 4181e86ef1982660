import { afterEach, describe, expect, it } from 'vitest';
import type { JobQueue, RunningJob } from '../../src/platform/job-queue.js';
import { openTestJobQueue, uniqueId } from '../support/platform.js';

const open: JobQueue[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((q) => q.close()));
});

function queue(): JobQueue {
  const q = openTestJobQueue();
  open.push(q);
  return q;
}

function collector() {
  const seen: RunningJob<{ n: number }>[] = [];
  let wake: () => void = () => {};
  return {
    seen,
    processor: async (job: RunningJob<{ n: number }>) => {
      seen.push(job);
      wake();
    },
    async waitFor(count: number, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (seen.length < count && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
    },
  };
}

describe('BullMQ job queue (real Redis)', () => {
  it('runs an enqueued job once, with its id and data', async () => {
    const q = queue();
    const name = uniqueId('q');
    const c = collector();
    q.process(name, c.processor);
    await q.enqueue(name, { id: 'row-1', data: { n: 1 } });
    await c.waitFor(1);
    expect(c.seen.map((j) => [j.id, j.data.n, j.attempt])).toEqual([['row-1', 1, 1]]);
  });

  it('ignores a second job with an id the queue still holds', async () => {
    const q = queue();
    const name = uniqueId('q');
    await q.enqueue(name, { id: 'dup', data: { n: 1 }, delayMs: 300 });
    await q.enqueue(name, { id: 'dup', data: { n: 2 }, delayMs: 300 });
    const c = collector();
    q.process(name, c.processor);
    await c.waitFor(2, 1_500);
    expect(c.seen.map((j) => j.data.n)).toEqual([1]);
  });

  it('adds several jobs in one call, each once, skipping ids the queue still holds', async () => {
    const q = queue();
    const name = uniqueId('q');
    await q.enqueue(name, { id: 'held', data: { n: 0 }, delayMs: 300 });
    await q.enqueueMany(name, [
      { id: 'held', data: { n: 1 } },
      { id: 'a', data: { n: 2 }, attempts: 3 },
      { id: 'b', data: { n: 3 } },
    ]);
    expect([...(await q.held(name, ['held', 'a', 'b', 'never']))].sort()).toEqual(['a', 'b', 'held']);
    const c = collector();
    q.process(name, c.processor);
    await c.waitFor(4, 1_500);
    expect(c.seen.map((j) => [j.id, j.data.n]).sort()).toEqual([['a', 2], ['b', 3], ['held', 0]]);
  });

  it('holds a delayed job until it is due', async () => {
    const q = queue();
    const name = uniqueId('q');
    const c = collector();
    q.process(name, c.processor);
    const enqueuedAt = Date.now();
    await q.enqueue(name, { id: 'later', data: { n: 1 }, delayMs: 400 });
    await c.waitFor(1);
    expect(c.seen).toHaveLength(1);
    expect(Date.now() - enqueuedAt).toBeGreaterThanOrEqual(400);
  });

  it('runs a deferred job again under its own id, after the wait, without spending an attempt', async () => {
    const q = queue();
    const name = uniqueId('q');
    const runs: { id: string; attempt: number; at: number }[] = [];
    q.process<{ n: number }>(name, async (job) => {
      runs.push({ id: job.id, attempt: job.attempt, at: Date.now() });
      if (runs.length === 1) return { deferMs: 300 };
    });
    await q.enqueue(name, { id: 'not-yet', data: { n: 1 }, attempts: 1 });
    const deadline = Date.now() + 5_000;
    while (runs.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 100));
    expect(runs.map((r) => [r.id, r.attempt])).toEqual([['not-yet', 1], ['not-yet', 1]]);
    expect(runs[1]!.at - runs[0]!.at).toBeGreaterThanOrEqual(300);
    // Done now: the queue no longer holds it.
    expect([...(await q.held(name, ['not-yet']))]).toEqual([]);
  });

  it("starts delayed jobs by the database's clock when this machine's clock runs behind it, and no job before it is due", async () => {
    const q = queue();
    const name = uniqueId('q');
    const c = collector();
    q.process(name, c.processor);
    // The database's clock is five minutes ahead of this machine's.
    q.followDatabaseClock!(() => Date.now() + 5 * 60_000);
    const enqueuedAt = Date.now();
    await q.enqueue(name, { id: 'due-by-db', data: { n: 1 }, delayMs: 60_000 });
    await q.enqueue(name, { id: 'not-due-yet', data: { n: 2 }, delayMs: 10 * 60_000 });
    await c.waitFor(1, 10_000);
    await new Promise((r) => setTimeout(r, 600));
    expect(c.seen.map((j) => j.id)).toEqual(['due-by-db']);
    expect(Date.now() - enqueuedAt).toBeLessThan(15_000);
    expect([...(await q.held(name, ['not-due-yet']))]).toEqual(['not-due-yet']);
  });

  it('retries a failing job up to its attempts', async () => {
    const q = queue();
    const name = uniqueId('q');
    const attempts: number[] = [];
    q.process<{ n: number }>(name, async (job) => {
      attempts.push(job.attempt);
      if (job.attempt < 3) throw new Error('receiver down');
    });
    await q.enqueue(name, { id: 'flaky', data: { n: 1 }, attempts: 3, backoffMs: 20 });
    const deadline = Date.now() + 5_000;
    while (attempts.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 200));
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('refuses job ids BullMQ cannot hold', async () => {
    const q = queue();
    await expect(q.enqueue('x', { id: 'a:b', data: {} })).rejects.toThrow(/may not contain ':'/);
    await expect(q.enqueue('x', { id: '12345', data: {} })).rejects.toThrow(/all digits/);
  });
});
