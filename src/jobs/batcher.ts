/**
 * Gathers the work of concurrently running jobs into batches, so that one transaction serves
 * many of them (due timers, outbox rows to fan out). Batching is natural: a batch starts as soon
 * as a slot is free, and whatever arrives while the slots are busy waits for the next one — no
 * linger delay when the load is light, large batches when it is heavy.
 *
 * With `key`, a batch holds at most one item per key, and a second item of a key waits until the
 * batch holding the first one has finished (it must see the first one's result — two timers or
 * two commands of one case — and it would only wait for the first one's row lock otherwise).
 * Items of one key are taken in the order they were submitted. Each submitter gets its own
 * item's result; when the batch's run throws, every submitter of that batch gets the error.
 */
export interface BatcherOptions<T, R> {
  /** Runs one batch; returns one result per item, in the order given. */
  run: (items: T[]) => Promise<R[]>;
  /** Items with equal keys never share a batch. */
  key?: (item: T) => string;
  /** Items per batch (default 100). */
  maxBatch?: number;
  /** Batches at once (default 4; each usually holds a database connection). */
  maxInFlight?: number;
}

interface Waiting<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

export interface Batcher<T, R> {
  submit(item: T): Promise<R>;
  /** Items submitted and not yet taken into a batch. */
  waiting(): number;
}

export function createBatcher<T, R>(options: BatcherOptions<T, R>): Batcher<T, R> {
  const maxBatch = options.maxBatch ?? 100;
  const maxInFlight = options.maxInFlight ?? 4;
  let waiting: Waiting<T, R>[] = [];
  let inFlight = 0;
  /** Keys of the items in running batches. */
  const busy = new Set<string>();

  function takeBatch(): { batch: Waiting<T, R>[]; keys: string[] } {
    if (!options.key) return { batch: waiting.splice(0, maxBatch), keys: [] };
    const batch: Waiting<T, R>[] = [];
    const keys = new Set<string>();
    // A key skipped once stays skipped for this pass, so its later items keep their order.
    const held = new Set<string>();
    const rest: Waiting<T, R>[] = [];
    for (const w of waiting) {
      const key = options.key(w.item);
      if (batch.length < maxBatch && !keys.has(key) && !held.has(key) && !busy.has(key)) {
        keys.add(key);
        batch.push(w);
      } else {
        held.add(key);
        rest.push(w);
      }
    }
    waiting = rest;
    return { batch, keys: [...keys] };
  }

  async function runBatch(batch: Waiting<T, R>[]) {
    try {
      const results = await options.run(batch.map((w) => w.item));
      batch.forEach((w, i) => {
        if (i < results.length) w.resolve(results[i]!);
        else w.reject(new Error('the batch returned fewer results than items'));
      });
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }

  function pump() {
    while (inFlight < maxInFlight && waiting.length > 0) {
      const { batch, keys } = takeBatch();
      // Everything waiting belongs to a key of a running batch: its end pumps again.
      if (batch.length === 0) return;
      for (const key of keys) busy.add(key);
      inFlight += 1;
      void runBatch(batch).finally(() => {
        for (const key of keys) busy.delete(key);
        inFlight -= 1;
        pump();
      });
    }
  }

  return {
    submit(item) {
      return new Promise<R>((resolve, reject) => {
        waiting.push({ item, resolve, reject });
        pump();
      });
    },
    waiting: () => waiting.length,
  };
}
