/**
 * A Postgres cluster of the test's own, to stop and start at will (the shared server on 5432 is
 * never stopped: other runs use it). initdb into a temporary directory, its own free port on
 * 127.0.0.1, its Unix socket in that directory, fsync off. Postgres refuses to run as root, so as
 * root (CI) the binaries run as the `postgres` user through `runuser`; as anyone else, directly.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where Debian puts the server binaries (`PG_BIN` overrides; else the newest installed version). */
async function binDir(): Promise<string> {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const { readdir } = await import('node:fs/promises');
  const versions = existsSync(root) ? (await readdir(root)).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const dir = path.join(root, v, 'bin');
    if (existsSync(path.join(dir, 'initdb'))) return dir;
  }
  throw new Error('no PostgreSQL server binaries found under /usr/lib/postgresql (set PG_BIN)');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/<database>` */
  url(database?: string): string;
  port: number;
  /** The cluster's data directory (`postmaster.pid` names the server's process). */
  dataDir: string;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** Stops the cluster (if running) and deletes its directory. */
  destroy(): Promise<void>;
}

export interface PrivatePostgresSettings {
  /**
   * Commits are acknowledged only once their WAL is written (`synchronous_commit` on), so a
   * `kill -9` of every server process loses no acknowledged commit (fsync stays off: the kernel
   * keeps what was written; only a machine crash would need it). Without it, commits are
   * acknowledged from WAL buffers, fastest for tests that never kill the server.
   */
  durable?: boolean;
  /**
   * Postgres's own defaults for durability (fsync and full page writes on, synchronous commit):
   * a server configured like a production one, for a bench that compares it with the shared one.
   */
  flush?: boolean;
  /** Where the cluster's directory goes (default /tmp as root, else the temp dir): /dev/shm puts it on tmpfs. */
  parentDir?: string;
  /** More `-c name=value` settings. */
  options?: string[];
}

export async function startPrivatePostgres(settings: PrivatePostgresSettings = {}): Promise<PrivatePostgres> {
  const bin = await binDir();
  const asRoot = process.getuid?.() === 0;
  // As root, under /tmp: the postgres user must be able to reach the directory (a TMPDIR under
  // /root would not do).
  const dir = await mkdtemp(path.join(settings.parentDir ?? (asRoot ? '/tmp' : tmpdir()), 'tessera-pg-'));
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  await chmod(dir, 0o700);
  const pgRun = (tool: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', path.join(bin, tool), ...args], { cwd: dir }) : run(path.join(bin, tool), args, { cwd: dir });

  await pgRun('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--no-instructions']);
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    ...(settings.flush ? [] : ['-c fsync=off', '-c full_page_writes=off']),
    ...(settings.durable || settings.flush ? [] : ['-c synchronous_commit=off']),
    '-c max_connections=60',
    '-c shared_buffers=16MB',
    ...(settings.options ?? []).map((o) => `-c ${o}`),
  ].join(' ');
  const log = async () => (existsSync(logFile) ? (await readFile(logFile, 'utf8')).slice(-3000) : '');

  let running = false;
  const cluster: PrivatePostgres = {
    port,
    dataDir: data,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async start() {
      try {
        await pgRun('pg_ctl', ['-D', data, '-o', options, '-l', logFile, '-w', '-t', '60', 'start']);
      } catch (err) {
        throw new Error(`private postgres did not start: ${(err as Error).message}\n${await log()}`);
      }
      running = true;
    },
    async stop(mode = 'fast') {
      await pgRun('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
      running = false;
    },
    async destroy() {
      if (running) await cluster.stop('immediate').catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await cluster.start();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return cluster;
}
