import { describe, expect, it } from 'vitest';
import { createInProcessJobQueue } from '../../src/platform/in-process-job-queue.js';
import { silentLogger } from '../support/platform.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('in-process job queue (embedded mode)', () => {
  it('runs jobs enqueued before the processor registers, once per id', async () => {
    const q = createInProcessJobQueue({ logger: silentLogger });
    const seen: string[] = [];
    await q.enqueue('t', { id: 'a', data: 1 });
    await q.enqueue('t', { id: 'a', data: 2 });
    await sleep(20);
    q.process('t', async (job) => {
      seen.push(`${job.id}=${String(job.data)}`);
    });
    await sleep(50);
    expect(seen).toEqual(['a=1']);
    await q.close();
  });

  it('retries with backoff and stops after the last attempt', async () => {
    const q = createInProcessJobQueue({ logger: silentLogger });
    const attempts: number[] = [];
    q.process('t', async (job) => {
      attempts.push(job.attempt);
      throw new Error('no');
    });
    await q.enqueue('t', { id: 'f', data: null, attempts: 3, backoffMs: 10 });
    await sleep(200);
    expect(attempts).toEqual([1, 2, 3]);
    await q.close();
  });

  it('runs a deferred job again after the wait, as the same try', async () => {
    const q = createInProcessJobQueue({ logger: silentLogger });
    const runs: { attempt: number; at: number }[] = [];
    q.process('t', async (job) => {
      runs.push({ attempt: job.attempt, at: Date.now() });
      if (runs.length === 1) return { deferMs: 100 };
    });
    await q.enqueue('t', { id: 'd', data: null, attempts: 1 });
    await sleep(400);
    expect(runs.map((r) => r.attempt)).toEqual([1, 1]);
    expect(runs[1]!.at - runs[0]!.at).toBeGreaterThanOrEqual(100);
    expect([...(await q.held('t', ['d']))]).toEqual([]);
    await q.close();
  });

  it('runs nothing after close', async () => {
    const q = createInProcessJobQueue({ logger: silentLogger });
    const seen: string[] = [];
    q.process('t', async (job) => {
      seen.push(job.id);
    });
    await q.enqueue('t', { id: 'late', data: null, delayMs: 50 });
    await q.close();
    await sleep(100);
    expect(seen).toEqual([]);
  });
});
