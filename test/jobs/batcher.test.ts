/**
 * The batcher alone: how due timers from concurrent jobs are grouped into transactions.
 * `run` here is the seam the worker fills with `runner.fireTimers` (tested on Postgres in
 * test/commands/fire-timers.test.ts); this records the batches it is given.
 */
import { describe, expect, it } from 'vitest';
import type { DueTimer, TimerOutcome } from '../../src/commands/run-command.js';
import { createBatcher } from '../../src/jobs/batcher.js';

function recorder(options: { failCase?: string; delayMs?: number } = {}) {
  const batches: DueTimer[][] = [];
  let inFlight = 0;
  let maxSeen = 0;
  const fire = async (timers: DueTimer[]): Promise<TimerOutcome[]> => {
    batches.push(timers);
    inFlight += 1;
    maxSeen = Math.max(maxSeen, inFlight);
    await new Promise((r) => setTimeout(r, options.delayMs ?? 5));
    inFlight -= 1;
    if (timers.some((t) => t.caseId === options.failCase)) throw new Error('transaction failed');
    return timers.map((t) => ({ timerId: t.timerId, outcome: 'applied' as const }));
  };
  return { fire, batches, maxInFlight: () => maxSeen };
}

const timer = (n: number, caseId = `case-${n}`): DueTimer => ({ timerId: `timer-${n}`, caseId });

describe('timer batcher', () => {
  it('fires the first timer at once and gathers the ones arriving meanwhile into bounded batches', async () => {
    const r = recorder();
    const batcher = createBatcher({ run: r.fire, key: (t: DueTimer) => t.caseId, maxBatch: 10, maxInFlight: 2 });
    const outcomes = await Promise.all(Array.from({ length: 45 }, (_, n) => batcher.submit(timer(n))));

    expect(outcomes.map((o) => o.timerId)).toEqual(Array.from({ length: 45 }, (_, n) => `timer-${n}`));
    expect(outcomes.every((o) => o.outcome === 'applied')).toBe(true);
    // Two start alone (the slots were free), the rest wait and go in batches of at most 10.
    expect(r.batches[0]).toHaveLength(1);
    expect(r.batches[1]).toHaveLength(1);
    expect(r.batches.slice(2).map((b) => b.length)).toEqual([10, 10, 10, 10, 3]);
    expect(r.maxInFlight()).toBe(2);
    expect(r.batches.flat().map((t) => t.timerId).sort()).toEqual(outcomes.map((o) => o.timerId).sort());
  });

  it('never puts two timers of one case in one batch: the second waits for the first to commit', async () => {
    const r = recorder();
    const batcher = createBatcher({ run: r.fire, key: (t: DueTimer) => t.caseId, maxBatch: 10, maxInFlight: 1 });
    await Promise.all([batcher.submit(timer(0)), batcher.submit(timer(1, 'shared')), batcher.submit(timer(2, 'shared')), batcher.submit(timer(3))]);

    for (const batch of r.batches) expect(new Set(batch.map((t) => t.caseId)).size).toBe(batch.length);
    const batchOf = (id: string) => r.batches.findIndex((b) => b.some((t) => t.timerId === id));
    expect(batchOf('timer-2')).toBeGreaterThan(batchOf('timer-1'));
  });

  it('fails only the timers of a failed transaction; later batches still run', async () => {
    const r = recorder({ failCase: 'bad' });
    const batcher = createBatcher({ run: r.fire, key: (t: DueTimer) => t.caseId, maxBatch: 2, maxInFlight: 1 });
    const results = await Promise.allSettled([batcher.submit(timer(0)), batcher.submit(timer(1, 'bad')), batcher.submit(timer(2)), batcher.submit(timer(3)), batcher.submit(timer(4))]);

    // Batches: [0], [1 bad, 2], [3, 4]: the second one fails as a whole.
    expect(r.batches.map((b) => b.map((t) => t.timerId))).toEqual([['timer-0'], ['timer-1', 'timer-2'], ['timer-3', 'timer-4']]);
    expect(results.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled']);
  });

  it('without a key, batches items in arrival order, repeats included', async () => {
    const batches: string[][] = [];
    const batcher = createBatcher({
      run: async (ids: string[]) => {
        batches.push(ids);
        await new Promise((r) => setTimeout(r, 5));
        return ids.map((id) => id.toUpperCase());
      },
      maxBatch: 3,
      maxInFlight: 1,
    });
    const results = await Promise.all(['a', 'b', 'a', 'c', 'd'].map((id) => batcher.submit(id)));
    expect(results).toEqual(['A', 'B', 'A', 'C', 'D']);
    expect(batches).toEqual([['a'], ['b', 'a', 'c'], ['d']]);
  });

  it('holds a key while a batch with it runs: its next item starts only after that batch ended, in order', async () => {
    const events: string[] = [];
    const batcher = createBatcher({
      run: async (items: string[]) => {
        events.push(`start ${items.join(',')}`);
        await new Promise((r) => setTimeout(r, 20));
        events.push(`end ${items.join(',')}`);
        return items;
      },
      key: (item: string) => item.split(':')[0]!,
      maxBatch: 10,
      maxInFlight: 4,
    });
    const results = await Promise.all(['x:1', 'y:1', 'x:2', 'x:3', 'z:1'].map((item) => batcher.submit(item)));
    expect(results).toEqual(['x:1', 'y:1', 'x:2', 'x:3', 'z:1']);
    // Free slots do not let x:2 run beside x:1; y and z never wait for x.
    expect(events.indexOf('start x:2')).toBeGreaterThan(events.indexOf('end x:1'));
    expect(events.indexOf('start x:3')).toBeGreaterThan(events.indexOf('end x:2'));
    expect(events.filter((e) => e.startsWith('start')).some((e) => e.includes('x:2') && e.includes('x:3'))).toBe(false);
  });
});
