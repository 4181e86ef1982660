/** Shared bench plumbing: a throwaway database, percentiles, a fixed-concurrency runner. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { deleteRedisKeys } from '../src/platform/redis-keys.js';

export async function createBenchDatabase(serverUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `tessera_bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

export interface RunResult {
  ops: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** Runs `op` from `concurrency` loops until `total` operations completed; latency per op. */
export async function runClosedLoop(concurrency: number, total: number, op: (i: number) => Promise<void>): Promise<RunResult> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        const t0 = performance.now();
        await op(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { ops: total, seconds, perSecond: total / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Deletes every Redis key under a BullMQ prefix (a bench's own; never FLUSHALL a shared Redis). */
export function deleteRedisPrefix(redisUrl: string, prefix: string): Promise<number> {
  return deleteRedisKeys(redisUrl, `${prefix}:*`);
}

const REPO_ROOT = path.resolve(import.meta.dirname, '..');

export interface ServerProc {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** Spawns src/server.ts with `env`; resolves once `ready` matches its output. */
export function spawnServer(env: Record<string, string>, ready: RegExp, nodeArgs: string[] = []): Promise<ServerProc & { match: RegExpExecArray }> {
  const child = spawn(process.execPath, ['--max-semi-space-size=64', ...nodeArgs, '--import', 'tsx', path.join(REPO_ROOT, 'src/server.ts')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  // Keep the tail only: the output is read as fast as it comes (a full pipe would block the
  // server's writes). Chunks, not one string: re-slicing a 200 kB string per chunk cost the load
  // generator more CPU than sending the requests (a profile at 300 requests/s).
  const chunks: string[] = [];
  let kept = 0;
  const keep = (d: Buffer) => {
    const chunk = d.toString();
    chunks.push(chunk);
    kept += chunk.length;
    while (kept > 200_000 && chunks.length > 1) kept -= chunks.shift()!.length;
  };
  const tail = () => chunks.join('');
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const stop = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start:\n${tail().slice(-4000)}`));
    }, 180_000);
    const check = () => {
      const match = ready.exec(tail());
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve({ child, output: tail, stop, match });
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${tail().slice(-4000)}`));
    });
  });
}

/**
 * CPU seconds (user + system) used so far by the processes `pick` selects from /proc: a server
 * by pid, or every `postgres` or `redis-server` process. Throughput on a shared machine swings
 * with the neighbours' load; CPU per message does much less, so benches report both. Linux only:
 * elsewhere (no /proc) it is undefined.
 */
export function cpuSeconds(pick: { pid: number } | { command: string }): number | undefined {
  let entries: string[];
  try {
    entries = 'pid' in pick ? [String(pick.pid)] : readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return undefined;
  }
  let ticks = 0;
  for (const pid of entries) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid ..." — comm may hold spaces; fields after it are space-separated.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    if ('command' in pick && comm !== pick.command) continue;
    const fields = stat.slice(close + 2).split(' ');
    // utime + stime, and cutime + cstime: the CPU of children it has reaped (a Postgres backend
    // that exits moves into the postmaster's), so a delta still counts a process that ended.
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  }
  // USER_HZ is 100 on every Linux build that matters here.
  return ticks / 100;
}
