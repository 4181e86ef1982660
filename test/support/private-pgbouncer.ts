/**
 * A PgBouncer of the test's own in transaction pooling mode, on a free port on 127.0.0.1, in front
 * of a Postgres server (the shared one: only its own databases are reached through it). Its
 * config, auth file, log and pid file live in a temporary directory. PgBouncer refuses to run as
 * root, so as root (CI) it drops to the `postgres` user (`-u postgres`).
 *
 * A missing binary is a clear failure, never a skip: `.ci/run` installs the Debian package
 * (`apt-get install -y pgbouncer`) when it is absent.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export function pgbouncerBinary(): string {
  for (const candidate of [process.env.PGBOUNCER_BIN, '/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer']) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  throw new Error('pgbouncer is not installed: run `apt-get install -y pgbouncer` (.ci/run does it when missing), or set PGBOUNCER_BIN');
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

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

export interface PrivatePgbouncer {
  port: number;
  /** The URL of `database` through the bouncer (user postgres). */
  url(database: string): string;
  /** The admin console (`SHOW POOLS`, `SHOW STATS`). */
  adminUrl: string;
  log(): Promise<string>;
  stop(): Promise<void>;
}

/** `server`: the Postgres server behind it, e.g. `postgres://postgres@127.0.0.1:5432/postgres`. */
export async function startPrivatePgbouncer(server: string, poolSize = 8): Promise<PrivatePgbouncer> {
  const binary = pgbouncerBinary();
  const target = new URL(server);
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(path.join('/tmp', 'tessera-pgbouncer-'));
  const port = await freePort();
  const ini = path.join(dir, 'pgbouncer.ini');
  const logFile = path.join(dir, 'pgbouncer.log');
  const user = decodeURIComponent(target.username || 'postgres');
  await writeFile(path.join(dir, 'userlist.txt'), `"${user}" ""\n`);
  await writeFile(
    ini,
    [
      '[databases]',
      // Any database name is passed through to the same server (the tests' databases are made per run).
      `* = host=${target.hostname} port=${target.port || '5432'}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      `unix_socket_dir = ${dir}`,
      'auth_type = trust',
      `auth_file = ${path.join(dir, 'userlist.txt')}`,
      `admin_users = ${user}`,
      'pool_mode = transaction',
      `default_pool_size = ${poolSize}`,
      'max_client_conn = 500',
      // What Tessera relies on being true behind a transaction pooler: nothing carried between
      // transactions. server_reset_query is not used in transaction mode; say so explicitly.
      'server_reset_query =',
      'ignore_startup_parameters = extra_float_digits,options',
      `logfile = ${logFile}`,
      `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  if (asRoot) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    for (const f of [dir, ini, path.join(dir, 'userlist.txt')]) await chown(f, uid, gid);
  }
  await chmod(dir, 0o700);
  const child: ChildProcess = spawn(binary, [...(asRoot ? ['-u', 'postgres'] : []), ini], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log = async () => out + (existsSync(logFile) ? await readFile(logFile, 'utf8') : '');
  const deadline = Date.now() + 20_000;
  while (!(await portOpen(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      const text = await log();
      await rm(dir, { recursive: true, force: true });
      throw new Error(`pgbouncer did not start:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    url: (database) => `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${database}`,
    adminUrl: `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/pgbouncer`,
    log,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
