import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp } from '../support/platform.js';

describe('health, readiness and docs on real Postgres and Redis', () => {
  let t: Awaited<ReturnType<typeof startTestApp>>;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('is alive without a key', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health' });
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('is ready when Postgres and Redis answer', async () => {
    await t.jobs.ping().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200)); // the producer connection comes up asynchronously
    const res = await t.app.inject({ method: 'GET', url: '/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      status: 'ready',
      mode: 'queue',
      checks: [
        { name: 'postgres', ok: true },
        { name: 'redis', ok: true },
      ],
    });
  });

  it('publishes an OpenAPI 3.1 document that describes the routes', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    const doc = res.json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/health', '/ready', '/v1/me', '/v1/api-keys']));
    const docs = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain('swagger');
  });
});

describe('readiness when Redis is down', () => {
  let t: Awaited<ReturnType<typeof startTestApp>>;
  beforeAll(async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    t = await startTestApp({ redisUrl: 'redis://127.0.0.1:1' });
  });
  afterAll(() => t.close());

  it('answers 503 naming Redis, and still reports Postgres as fine', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/ready' });
    expect(res.statusCode).toBe(503);
    const body = res.json();
    expect(body.code).toBe('NOT_READY');
    expect(body.detail).toMatch(/redis/);
    expect(body.detail).not.toMatch(/postgres/);
    expect(body.checks).toEqual([
      { name: 'postgres', ok: true },
      { name: 'redis', ok: false, error: expect.any(String) },
    ]);
  });
});
