/**
 * Evaluates JSONata expressions off the main thread, where a runaway one can be stopped.
 *
 * JSONata is Turing-complete (recursive functions), its regexes are JavaScript's (they can
 * backtrack for minutes inside one native call) and `$pad`/`$join`/`&` build strings natively —
 * and mappings run over payloads the sender controls. Hooks inside the evaluation can count
 * steps, but nothing on the thread can interrupt a native call, and even JSONata's "async"
 * evaluation runs as one chain of microtasks that starves the event loop. So every evaluation
 * runs in a small pool of worker threads and is bounded four ways:
 * - time: JSONata's own guard stops it after `timeoutMs` (checked at every step); a worker stuck
 *   in one native call past `hardTimeoutMs` is terminated and replaced;
 * - depth: `maxDepth` nested evaluation steps (a recursive function without an end);
 * - memory: each worker has a `heapMb` heap; a worker that runs out is replaced;
 * - size: no string longer than `maxString` characters and no sequence longer than
 *   `maxSequence` items is built, and a result is at most `maxResultChars` characters of JSON.
 * The main thread only waits for a message, so health checks and other requests go on meanwhile.
 *
 * Evaluations waiting when a worker comes free go to it together, in one message (at most
 * `batch`), and come back in one: a `postMessage` costs the sending thread more than a small
 * evaluation costs the worker (the largest item of the inbox worker's profile at 2,000 rows/s),
 * so concurrent webhooks share it, while a lone evaluation is sent at once. The worker counts
 * the evaluations it finished in shared memory, so the hard time bound still holds per
 * evaluation: the one running when the count stops for `hardTimeoutMs` fails, and the others of
 * its batch are evaluated again. A batch whose worker runs out of memory is evaluated again one
 * at a time (memory is the batch's, not one evaluation's), so only the culprit fails.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

export interface JsonataLimits {
  readonly timeoutMs: number;
  readonly hardTimeoutMs: number;
  readonly maxDepth: number;
  readonly maxSequence: number;
  readonly maxString: number;
  readonly maxResultChars: number;
  readonly heapMb: number;
  readonly workers: number;
  readonly batch: number;
}

export const JSONATA_LIMITS: JsonataLimits = {
  timeoutMs: 500,
  hardTimeoutMs: 1_000,
  maxDepth: 200,
  maxSequence: 100_000,
  maxString: 1_000_000,
  maxResultChars: 1_048_576,
  heapMb: 128,
  /** Worker threads per process: a poisoned message holds one for at most hardTimeoutMs. */
  workers: 2,
  /** Evaluations handed to a worker in one message. */
  batch: 32,
};

export type SandboxResult =
  /** `value` is plain JSON (JSONata sequences and functions dropped), undefined when nothing matched. */
  | { ok: true; value: unknown }
  /** `limit`: stopped by a bound (time, depth, memory, size) rather than an ordinary JSONata error. */
  | { ok: false; message: string; limit: boolean };

// Plain JavaScript run as the worker's script (a string, so it works the same under tsc's dist,
// tsx and vitest, none of which would have to load TypeScript inside the worker).
const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const jsonata = require(workerData.jsonataPath);
const L = workerData.limits;
const EXIT = Symbol.for('jsonata.__evaluate_exit');
const cache = new Map();
const limit = (message) => Object.assign(new Error(message), { limit: true });
// Functions that build a long string in one native call are checked before they start.
const builtins = {};
const guarded = {
  pad: ['<s-ns?:s>', (str, width, char) => {
    if (Math.abs(width) > L.maxString) throw limit('$pad to ' + width + ' characters; the limit is ' + L.maxString);
    return builtins.pad(str, width, char);
  }],
  join: ['<a<s>s?:s>', (strs, separator) => {
    if (Array.isArray(strs)) {
      let total = (strs.length - 1) * (typeof separator === 'string' ? separator.length : 0);
      for (const s of strs) total += typeof s === 'string' ? s.length : 0;
      if (total > L.maxString) throw limit('$join would build ' + total + ' characters; the limit is ' + L.maxString);
    }
    return builtins.join(strs, separator);
  }],
};

function compiled(source) {
  let expression = cache.get(source);
  if (expression) return expression;
  expression = jsonata(source, { timeout: L.timeoutMs, stack: L.maxDepth, sequence: L.maxSequence });
  // Checked after every step: no step hands on a value over the size bounds.
  expression.assign(EXIT, (expr, input, environment, result) => {
    if (typeof result === 'string' && result.length > L.maxString) {
      throw limit('built a string of ' + result.length + ' characters; the limit is ' + L.maxString);
    }
    if (Array.isArray(result) && result.length > L.maxSequence) {
      throw limit('built a sequence of ' + result.length + ' items; the limit is ' + L.maxSequence);
    }
  });
  // Refused when the mapping is written; also unavailable here.
  expression.registerFunction('eval', () => { throw limit('$eval is not available in mappings'); });
  for (const [name, [signature, implementation]] of Object.entries(guarded)) expression.registerFunction(name, implementation, signature);
  if (cache.size >= 1000) cache.delete(cache.keys().next().value);
  cache.set(source, expression);
  return expression;
}

// Evaluations finished by this worker, ever: the main thread watches it to time each one.
const finished = new Int32Array(workerData.progress);

async function evaluate({ source, input, bindings }) {
  try {
    const value = await compiled(source).evaluate(input, bindings);
    const json = value === undefined ? undefined : JSON.stringify(value);
    if (json !== undefined && json.length > L.maxResultChars) {
      throw limit('produced ' + json.length + ' characters of JSON; the limit is ' + L.maxResultChars);
    }
    return { ok: true, json };
  } catch (err) {
    const code = err && err.code;
    const isLimit = Boolean(err && err.limit) || code === 'D1011' || code === 'D1012' || code === 'D2014' || code === 'D2015' || err instanceof RangeError;
    const message = (err && err.message) || String(err);
    return { ok: false, limit: isLimit, message: String(message).slice(0, 500) };
  }
}

parentPort.on('message', async ({ batch, tasks }) => {
  const results = [];
  for (const task of tasks) {
    results.push(await evaluate(task));
    Atomics.add(finished, 0, 1);
  }
  parentPort.postMessage({ batch, results });
});
(async () => {
  for (const name of Object.keys(guarded)) builtins[name] = (await jsonata('$' + name).evaluate({})).implementation;
  parentPort.postMessage({ ready: true });
})();
`;

interface Task {
  source: string;
  input: unknown;
  bindings: Record<string, unknown>;
  /** Evaluated in a batch of its own (its batch ran out of memory: find which one did). */
  alone?: boolean;
  resolve: (result: SandboxResult) => void;
  reject: (error: Error) => void;
}

type WorkerResult = { ok: true; json?: string } | { ok: false; message?: string; limit?: boolean };

interface Slot {
  worker: Worker;
  ready: boolean;
  /** The worker's count of finished evaluations (Int32Array over a SharedArrayBuffer). */
  finished: Int32Array;
  /** Evaluations handed to it before the current batch (the count when the batch was sent). */
  handed: number;
  /** The batch it is evaluating, in order, and its number. */
  tasks?: Task[];
  batch?: number;
  /** The count last seen, and when it changed (the current evaluation started then or later). */
  seen: number;
  seenAt: number;
  watchdog?: NodeJS.Timeout;
}

export interface JsonataSandbox {
  evaluate(source: string, input: unknown, bindings: Record<string, unknown>): Promise<SandboxResult>;
  /** Stops the workers; later and pending evaluations reject (the process exits without it: the workers are unref'd). */
  close(): Promise<void>;
}

export function createJsonataSandbox(limits: JsonataLimits = JSONATA_LIMITS): JsonataSandbox {
  const jsonataPath = createRequire(import.meta.url).resolve('jsonata');
  const slots: Slot[] = [];
  const queue: Task[] = [];
  let nextBatch = 1;
  let closed = false;

  function spawn(): Slot {
    const progress = new SharedArrayBuffer(4);
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { jsonataPath, limits, progress },
      resourceLimits: { maxOldGenerationSizeMb: limits.heapMb, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
    });
    worker.unref();
    const slot: Slot = { worker, ready: false, finished: new Int32Array(progress), handed: 0, seen: 0, seenAt: 0 };
    worker.on('message', (message: { ready?: true; batch?: number; results?: WorkerResult[] }) => {
      if (message.ready) {
        slot.ready = true;
        dispatch();
        return;
      }
      if (!slot.tasks || slot.batch !== message.batch || !message.results) return;
      const tasks = slot.tasks;
      const results = message.results;
      free(slot);
      tasks.forEach((task, i) => task.resolve(resultOf(results[i])));
      dispatch();
    });
    // Out of memory (ERR_WORKER_OUT_OF_MEMORY) or any crash: the slot is replaced, and its batch's
    // evaluations run again one at a time, so the one that did it fails alone.
    worker.on('error', (err: Error & { code?: string }) => {
      const memory = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
      crashed(slot, memory ? `ran out of its ${limits.heapMb} MB of memory` : `stopped: ${err.message}`);
    });
    worker.on('exit', () => crashed(slot, 'stopped: the evaluation worker exited'));
    return slot;
  }

  function resultOf(result: WorkerResult | undefined): SandboxResult {
    if (!result) return { ok: false, limit: false, message: 'the evaluation worker returned no result' };
    return result.ok
      ? { ok: true, value: result.json === undefined ? undefined : (JSON.parse(result.json) as unknown) }
      : { ok: false, message: result.message ?? 'failed', limit: result.limit === true };
  }

  function free(slot: Slot) {
    if (slot.watchdog) clearInterval(slot.watchdog);
    slot.handed += slot.tasks?.length ?? 0;
    slot.tasks = undefined;
    slot.batch = undefined;
    slot.watchdog = undefined;
  }

  /** Takes the slot out and stops its worker; returns the batch it held. */
  function retire(slot: Slot): Task[] {
    const index = slots.indexOf(slot);
    if (index === -1) return [];
    slots.splice(index, 1);
    const tasks = slot.tasks ?? [];
    free(slot);
    void slot.worker.terminate();
    return tasks;
  }

  function crashed(slot: Slot, message: string) {
    const tasks = retire(slot);
    if (tasks.length === 1) tasks[0]!.resolve({ ok: false, limit: true, message });
    else queue.unshift(...tasks.map((task) => ({ ...task, alone: true })));
    dispatch();
  }

  /** Runs every quarter of hardTimeoutMs while a batch is out: the evaluation running too long fails. */
  function watch(slot: Slot) {
    const count = Atomics.load(slot.finished, 0);
    const now = performance.now();
    if (count !== slot.seen) {
      slot.seen = count;
      slot.seenAt = now;
      return;
    }
    if (now - slot.seenAt < limits.hardTimeoutMs) return;
    // Stuck in one native call: this one fails; the rest of its batch (done or not) goes again.
    const tasks = retire(slot);
    const running = count - (slot.handed - tasks.length);
    const stuck = tasks[running];
    stuck?.resolve({ ok: false, limit: true, message: `took longer than ${limits.hardTimeoutMs} ms` });
    queue.unshift(...tasks.filter((task) => task !== stuck));
    dispatch();
  }

  function dispatch() {
    if (closed) return;
    while (queue.length > 0) {
      const slot = slots.find((s) => s.ready && !s.tasks);
      if (!slot) {
        if (slots.length < limits.workers) slots.push(spawn());
        return;
      }
      let size = 1;
      if (!queue[0]!.alone) while (size < limits.batch && size < queue.length && !queue[size]!.alone) size++;
      const tasks = queue.splice(0, size);
      const batch = nextBatch++;
      slot.tasks = tasks;
      slot.batch = batch;
      slot.seen = slot.handed;
      slot.seenAt = performance.now();
      const current = slot;
      slot.watchdog = setInterval(() => watch(current), Math.max(1, limits.hardTimeoutMs / 4));
      slot.watchdog.unref();
      try {
        slot.worker.postMessage({ batch, tasks: tasks.map(({ source, input, bindings }) => ({ source, input, bindings })) });
      } catch (err) {
        // Not cloneable (cannot happen for parsed JSON): an ordinary failure, found one at a time.
        free(slot);
        if (tasks.length === 1) tasks[0]!.resolve({ ok: false, limit: false, message: (err as Error).message });
        else queue.unshift(...tasks.map((task) => ({ ...task, alone: true })));
      }
    }
  }

  return {
    evaluate(source, input, bindings) {
      // Closed is not the message's fault: the caller's job fails and is retried elsewhere.
      if (closed) return Promise.reject(new Error('the JSONata sandbox is closed'));
      return new Promise<SandboxResult>((resolve, reject) => {
        queue.push({ source, input, bindings, resolve, reject });
        dispatch();
      });
    },
    async close() {
      closed = true;
      const all = slots.splice(0);
      for (const task of queue.splice(0)) task.reject(new Error('the JSONata sandbox is closed'));
      await Promise.all(all.map(async (s) => {
        const tasks = s.tasks ?? [];
        free(s);
        for (const task of tasks) task.reject(new Error('the JSONata sandbox is closed'));
        await s.worker.terminate();
      }));
    },
  };
}

let shared: JsonataSandbox | undefined;

/** The process's sandbox, started on first use. */
export function jsonataSandbox(): JsonataSandbox {
  shared ??= createJsonataSandbox();
  return shared;
}
