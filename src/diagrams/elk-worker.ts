/**
 * ELK off the event loop: one worker thread that runs `elk.layout` and nothing else. A layout
 * takes 0.2 s warm and over 1 s while ELK's code is first compiled; on the API's own thread that
 * stalled every request behind it (the case screen's timeline pages waited for the diagram).
 *
 * The worker is plain JavaScript evaluated from a string, loading elkjs by absolute path, so it
 * runs the same from dist/ and under tsx/vitest (no .ts worker file to resolve). It is unref'd:
 * it never keeps a process alive, and `close()` terminates it.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { ElkNode } from 'elkjs/lib/elk-api.js';

export type RunLayout = (graph: ElkNode) => Promise<ElkNode>;

export interface ElkWorker {
  layout: RunLayout;
  close(): Promise<void>;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ELK = require(workerData.elkPath);
const elk = new (ELK.default || ELK)();
parentPort.on('message', ({ id, graph }) => {
  elk.layout(graph).then(
    (laid) => parentPort.postMessage({ id, laid }),
    (err) => parentPort.postMessage({ id, error: String((err && err.message) || err) }),
  );
});
`;

export function createElkWorker(): ElkWorker {
  const elkPath = createRequire(import.meta.url).resolve('elkjs/lib/elk.bundled.js');
  const pending = new Map<number, { resolve: (n: ElkNode) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let worker: Worker | undefined;
  let closed = false;

  const failAll = (err: Error) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };

  /** Started on first use; a worker that died is replaced by the next layout. */
  const start = (): Worker => {
    if (worker) return worker;
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { elkPath } });
    w.unref();
    w.on('message', (m: { id: number; laid?: ElkNode; error?: string }) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(`diagram layout failed: ${m.error}`));
      else p.resolve(m.laid!);
    });
    w.on('error', (err) => failAll(err));
    w.on('exit', () => {
      if (worker === w) worker = undefined;
      failAll(new Error('the diagram layout worker stopped'));
    });
    worker = w;
    return w;
  };

  return {
    layout(graph) {
      if (closed) return Promise.reject(new Error('the diagram layout worker is closed'));
      const id = ++nextId;
      return new Promise<ElkNode>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        start().postMessage({ id, graph });
      });
    },
    async close() {
      closed = true;
      const w = worker;
      worker = undefined;
      if (w) await w.terminate();
      failAll(new Error('the diagram layout worker is closed'));
    },
  };
}
