/**
 * Real processes for the database fault tests: an API process (`TESSERA_ROLE=api`) and a worker
 * process (`TESSERA_ROLE=worker`) on a database and BullMQ prefix of the test's own, plus an HTTP
 * client that records every answer (or the network error a crashed server leaves behind).
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { inject } from 'vitest';
import { spawnTs, startServer, type RunningServer } from '../support/process.js';
import { ADMIN_KEY, SECRET_KEY } from '../support/platform.js';
import { waitFor } from '../jobs/timer-stack.js';

/** `fault-case`: opening one arms a timer due after FAULT_TIMER_MS. */
export const FAULT_CATALOG = path.resolve(import.meta.dirname, 'catalog');
export const FAULT_TIMER_MS = 3_000;

export interface WorkerProcess {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  alive: () => boolean;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface FaultStack {
  api: RunningServer;
  worker: WorkerProcess;
  apiAlive: () => boolean;
  close(): Promise<void>;
}

function env(databaseUrl: string, prefix: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    REDIS_URL: inject('redisUrl'),
    TESSERA_REDIS_PREFIX: prefix,
    TESSERA_TEMPLATES_DIR: FAULT_CATALOG,
    TESSERA_MIGRATE_ON_START: 'false',
    TESSERA_SECRET_KEY: SECRET_KEY,
    TESSERA_ADMIN_KEY: ADMIN_KEY,
    TESSERA_RATE_LIMIT_PER_MINUTE: '1000000',
    LOG_LEVEL: 'warn',
  };
}

async function startWorker(databaseUrl: string, prefix: string): Promise<WorkerProcess> {
  // `info` for the "workers started" line this waits for.
  const child = spawnTs('src/server.ts', [], { ...env(databaseUrl, prefix), TESSERA_ROLE: 'worker', LOG_LEVEL: 'info' });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const worker: WorkerProcess = {
    child,
    output: () => out,
    alive,
    async stop(signal = 'SIGTERM') {
      if (alive()) child.kill(signal);
      await exited;
    },
  };
  const started = await waitFor(async () => (out.includes('workers started') || !alive() ? true : undefined), 60_000, 100);
  if (!started || !alive()) {
    await worker.stop('SIGKILL');
    throw new Error(`worker did not start:\n${out}`);
  }
  return worker;
}

/** Starts the API and a worker process; `close()` stops both (SIGKILL after a grace period). */
export async function startFaultStack(databaseUrl: string, prefix: string): Promise<FaultStack> {
  // `info` for the "Server listening" line startServer waits for.
  const [api, worker] = await Promise.all([
    startServer({ ...env(databaseUrl, prefix), TESSERA_ROLE: 'api', LOG_LEVEL: 'info' }),
    startWorker(databaseUrl, prefix),
  ]);
  const apiAlive = () => api.child.exitCode === null && api.child.signalCode === null;
  return {
    api,
    worker,
    apiAlive,
    async close() {
      const stopApi = apiAlive() ? api.stop('SIGTERM') : Promise.resolve();
      await Promise.race([Promise.all([stopApi, worker.stop('SIGTERM')]), new Promise((r) => setTimeout(r, 15_000))]);
      if (apiAlive()) api.child.kill('SIGKILL');
      if (worker.alive()) await worker.stop('SIGKILL');
    },
  };
}

/** One HTTP answer, or `network` when no answer came (the server is gone or reset the connection). */
export interface Answer {
  status: number | 'network';
  contentType: string;
  retryAfter: string | null;
  body: any;
  error?: string;
}

export async function call(baseUrl: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  try {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_KEY}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // kept as text
    }
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', retryAfter: res.headers.get('retry-after'), body: parsed };
  } catch (err) {
    return { status: 'network', contentType: '', retryAfter: null, body: null, error: String((err as Error).cause ?? err) };
  }
}

/** Opens a `fault-case` titled `key`, with `key` as its Idempotency-Key (it arms a timer). */
export function openCase(baseUrl: string, key: string): Promise<Answer> {
  return call(baseUrl, 'POST', '/v1/cases', { template: 'fault-case', title: key, owner_id: 'tester' }, { 'idempotency-key': key });
}
