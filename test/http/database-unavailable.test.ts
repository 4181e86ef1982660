/**
 * Requests while the database cannot be reached answer 503 problem+json DATABASE_UNAVAILABLE with
 * Retry-After — reads, writes and key lookups alike — never a 500 and never a wrong 401. The app
 * is built on a database handle whose server refuses connections (port 1 on loopback), next to a
 * core on the real one. (test/platform/postgres-restart.test.ts does the same with real processes
 * and a database that really stops.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { openDatabase, type DatabaseHandle } from '../../src/platform/database.js';
import { ADMIN_KEY, bearer, silentLogger, startTestApp, testConfig } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let dead: DatabaseHandle;
let app: Awaited<ReturnType<typeof buildApp>>;
beforeAll(async () => {
  t = await startTestApp();
  dead = await openDatabase({ databaseUrl: 'postgres://postgres@127.0.0.1:1/postgres', dataDir: '/nonexistent', poolSize: 2 });
  app = await buildApp({ config: testConfig(), logger: silentLogger, database: dead, jobs: t.jobs, secrets: t.secrets, core: t.core });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await dead?.close();
  await t?.close();
});

function expectUnavailable(res: { statusCode: number; headers: Record<string, unknown>; json: () => any }) {
  expect(res.statusCode).toBe(503);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.headers['retry-after']).toMatch(/^\d+$/);
  expect(res.json()).toMatchObject({
    type: 'https://tessera.dev/problems/database-unavailable',
    status: 503,
    code: 'DATABASE_UNAVAILABLE',
    detail: expect.stringContaining('Idempotency-Key'),
  });
  // The driver's text stays in the log.
  expect(JSON.stringify(res.json())).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
}

describe('the database is unreachable', () => {
  it('answers a read with 503 and Retry-After', async () => {
    expectUnavailable(await app.inject({ method: 'GET', url: '/v1/goals', headers: bearer(ADMIN_KEY) }));
  });

  it('answers a write with 503 and Retry-After', async () => {
    expectUnavailable(
      await app.inject({
        method: 'POST',
        url: '/v1/api-keys',
        headers: { ...bearer(ADMIN_KEY), 'content-type': 'application/json' },
        payload: { role: 'agent', user_id: 'ada', name: 'ada' },
      }),
    );
  });

  it('answers a key it cannot look up with 503, not 401', async () => {
    expectUnavailable(await app.inject({ method: 'GET', url: '/v1/me', headers: bearer('some-key-the-database-would-know') }));
  });

  it('is not ready (naming postgres) but alive', async () => {
    const ready = await app.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().detail).toMatch(/postgres/);
    expect(ready.json().checks).toContainEqual({ name: 'postgres', ok: false, error: expect.any(String) });
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });
});
