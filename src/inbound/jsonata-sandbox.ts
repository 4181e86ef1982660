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
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

export const JSONATA_LIMITS = {
  timeoutMs: 500,
  hardTimeoutMs: 1_000,
  maxDepth: 200,
  maxSequence: 100_000,
  maxString: 1_000_000,
  maxResultChars: 1_048_576,
  heapMb: 128,
  /** Worker threads per process: a poisoned message holds one for at most hardTimeoutMs. */
  workers: 2,
} as const;

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

parentPort.on('message', async ({ id, source, input, bindings }) => {
  try {
    const value = await compiled(source).evaluate(input, bindings);
    const json = value === undefined ? undefined : JSON.stringify(value);
    if (json !== undefined && json.length > L.maxResultChars) {
      throw limit('produced ' + json.length + ' characters of JSON; the limit is ' + L.maxResultChars);
    }
    parentPort.postMessage({ id, ok: true, json });
  } catch (err) {
    const code = err && err.code;
    const isLimit = Boolean(err && err.limit) || code === 'D1011' || code === 'D1012' || code === 'D2014' || code === 'D2015' || err instanceof RangeError;
    const message = (err && err.message) || String(err);
    parentPort.postMessage({ id, ok: false, limit: isLimit, message: String(message).slice(0, 500) });
  }
});
(async () => {
  for (const name of Object.keys(guarded)) builtins[name] = (await jsonata('$' + name).evaluate({})).implementation;
  parentPort.postMessage({ ready: true });
})();
`;

interface Task {
  id: number;
  source: string;
  input: unknown;
  bindings: Record<string, unknown>;
  resolve: (result: SandboxResult) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  task?: Task;
  timer?: NodeJS.Timeout;
}

export interface JsonataSandbox {
  evaluate(source: string, input: unknown, bindings: Record<string, unknown>): Promise<SandboxResult>;
  /** Stops the workers; later and pending evaluations reject (the process exits without it: the workers are unref'd). */
  close(): Promise<void>;
}

export function createJsonataSandbox(limits: typeof JSONATA_LIMITS = JSONATA_LIMITS): JsonataSandbox {
  const jsonataPath = createRequire(import.meta.url).resolve('jsonata');
  const slots: Slot[] = [];
  const queue: Task[] = [];
  let nextId = 1;
  let closed = false;

  function spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { jsonataPath, limits },
      resourceLimits: { maxOldGenerationSizeMb: limits.heapMb, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
    });
    worker.unref();
    const slot: Slot = { worker, ready: false };
    worker.on('message', (message: { ready?: true; id?: number; ok?: boolean; json?: string; message?: string; limit?: boolean }) => {
      if (message.ready) {
        slot.ready = true;
        dispatch();
        return;
      }
      const task = slot.task;
      if (!task || task.id !== message.id) return;
      settle(slot, message.ok
        ? { ok: true, value: message.json === undefined ? undefined : (JSON.parse(message.json) as unknown) }
        : { ok: false, message: message.message ?? 'failed', limit: message.limit === true });
    });
    // Out of memory (ERR_WORKER_OUT_OF_MEMORY) or any crash: the task fails, the slot is replaced.
    worker.on('error', (err: Error & { code?: string }) => {
      const memory = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
      replace(slot, { ok: false, limit: true, message: memory ? `ran out of its ${limits.heapMb} MB of memory` : `stopped: ${err.message}` });
    });
    worker.on('exit', () => replace(slot, { ok: false, limit: true, message: 'stopped: the evaluation worker exited' }));
    return slot;
  }

  function settle(slot: Slot, result: SandboxResult) {
    const task = slot.task;
    if (slot.timer) clearTimeout(slot.timer);
    slot.task = undefined;
    slot.timer = undefined;
    task?.resolve(result);
    dispatch();
  }

  function replace(slot: Slot, result: SandboxResult) {
    const index = slots.indexOf(slot);
    if (index === -1) return;
    slots.splice(index, 1);
    const task = slot.task;
    if (slot.timer) clearTimeout(slot.timer);
    slot.task = undefined;
    void slot.worker.terminate();
    task?.resolve(result);
    dispatch();
  }

  function dispatch() {
    if (closed) return;
    while (queue.length > 0) {
      const slot = slots.find((s) => s.ready && !s.task);
      if (!slot) {
        if (slots.length < limits.workers) slots.push(spawn());
        return;
      }
      const task = queue.shift()!;
      slot.task = task;
      const current = slot;
      slot.timer = setTimeout(() => replace(current, { ok: false, limit: true, message: `took longer than ${limits.hardTimeoutMs} ms` }), limits.hardTimeoutMs);
      slot.timer.unref();
      try {
        slot.worker.postMessage({ id: task.id, source: task.source, input: task.input, bindings: task.bindings });
      } catch (err) {
        // Not cloneable (cannot happen for parsed JSON): an ordinary failure of this task.
        settle(slot, { ok: false, limit: false, message: (err as Error).message });
      }
    }
  }

  return {
    evaluate(source, input, bindings) {
      // Closed is not the message's fault: the caller's job fails and is retried elsewhere.
      if (closed) return Promise.reject(new Error('the JSONata sandbox is closed'));
      return new Promise<SandboxResult>((resolve, reject) => {
        queue.push({ id: nextId++, source, input, bindings, resolve, reject });
        dispatch();
      });
    },
    async close() {
      closed = true;
      const all = slots.splice(0);
      for (const task of queue.splice(0)) task.reject(new Error('the JSONata sandbox is closed'));
      await Promise.all(all.map(async (s) => {
        if (s.timer) clearTimeout(s.timer);
        s.task?.reject(new Error('the JSONata sandbox is closed'));
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
