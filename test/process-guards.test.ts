/**
 * The process's last-resort guards (src/server.ts). Each path handles its own errors; a failure
 * that slips through anyway is a bug, and must be visible: a stray rejected promise is logged and
 * the server keeps serving; an uncaught exception is logged and the process exits non-zero (it is
 * not papered over). Real server processes, with a preloaded seam that leaves the failure on SIGUSR2.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { startServer, type RunningServer } from './support/process.js';
import { ADMIN_KEY, SECRET_KEY } from './support/platform.js';
import { waitFor } from './jobs/timer-stack.js';

const servers: RunningServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) if (s.child.exitCode === null && s.child.signalCode === null) await s.stop('SIGKILL');
});

async function start(failure: 'rejection' | 'exception') {
  const server = await startServer(
    {
      TESSERA_ROLE: 'api',
      DATABASE_URL: inject('databaseUrl'),
      REDIS_URL: inject('redisUrl'),
      TESSERA_REDIS_PREFIX: inject('redisPrefix'),
      TESSERA_MIGRATE_ON_START: 'false',
      TESSERA_SECRET_KEY: SECRET_KEY,
      TESSERA_ADMIN_KEY: ADMIN_KEY,
      STRAY_FAILURE: failure,
    },
    undefined,
    ['test/support/stray-failure.ts'],
  );
  servers.push(server);
  return server;
}

describe('last-resort guards of the server process', () => {
  it('logs a stray unhandled rejection and keeps serving', async () => {
    const server = await start('rejection');
    server.child.kill('SIGUSR2');
    const logged = await waitFor(async () => (server.output().includes('unhandled promise rejection') ? true : undefined), 10_000);
    expect(logged, server.output()).toBe(true);
    const line = server.output().split('\n').find((l) => l.includes('unhandled promise rejection'))!;
    expect(JSON.parse(line)).toMatchObject({ level: 50, err: { message: 'stray rejection left by the test' } });
    expect((await fetch(`${server.baseUrl}/health`)).status).toBe(200);
    expect(server.child.exitCode).toBeNull();
  }, 120_000);

  it('logs an uncaught exception and exits with status 1 instead of running on', async () => {
    const server = await start('exception');
    const exited = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)));
    server.child.kill('SIGUSR2');
    expect(await exited).toBe(1);
    const line = server.output().split('\n').find((l) => l.includes('uncaught exception'));
    expect(line, server.output()).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: 60, err: { message: 'stray exception left by the test' } });
  }, 120_000);
});
