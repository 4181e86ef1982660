/**
 * The relay's hand-over runs after the command has answered; `settled()` is its completion
 * signal (shutdown waits on it, tests use it instead of sleeping). A gated queue makes the
 * hand-over slow on purpose, so the test shows the wait is real, not lucky timing.
 */
import { describe, expect, it } from 'vitest';
import type { JobQueue, JobToAdd } from '../../src/platform/job-queue.js';
import { createRelay } from '../../src/relay/relay.js';
import { openTestDatabase, silentLogger } from '../support/platform.js';

/** A queue whose enqueue waits until `open()`; `added` lists what reached it. */
function gatedQueue() {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const added: string[] = [];
  const queue: JobQueue = {
    kind: 'in-process',
    async enqueue<T>(_queue: string, job: JobToAdd<T>) {
      await gate;
      added.push(job.id);
    },
    async enqueueMany<T>(_queue: string, jobs: JobToAdd<T>[]) {
      await gate;
      added.push(...jobs.map((j) => j.id));
    },
    held: async () => new Set(),
    process: () => {},
    ping: async () => {},
    close: async () => {},
  };
  return { queue, added, open };
}

describe('relay hand-over', () => {
  it('settled() resolves only once every hand-over started before it has reached the queue', async () => {
    const database = await openTestDatabase();
    try {
      const { queue, added, open } = gatedQueue();
      const relay = createRelay({ db: database.db, jobs: queue, logger: silentLogger });
      relay.handOver([
        {
          caseId: 'case-1',
          pendingOutbox: ['evt-1', 'evt-2'],
          effects: [{ type: 'timer.schedule', timer: { id: 'tmr-1', dueAt: new Date(Date.now() + 60_000).toISOString() } } as never],
        },
      ]);
      let done = false;
      const settled = relay.settled().then(() => (done = true));
      // Nothing reached the queue yet, and settled() has not resolved: it waits for the queue.
      await new Promise((r) => setImmediate(r));
      expect(added).toEqual([]);
      expect(done).toBe(false);

      open();
      await settled;
      expect(added.sort()).toEqual(['evt-1', 'tmr-1']);
      // Nothing in flight: resolves at once.
      await relay.settled();
    } finally {
      await database.close();
    }
  });
});
