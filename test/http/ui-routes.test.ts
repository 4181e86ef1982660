import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemDetails } from '../../src/http/problem-details.js';
import { defaultUiRoot, uiRoutes, UI_CONTENT_SECURITY_POLICY } from '../../src/http/ui-routes.js';
import { startTestApp } from '../support/platform.js';

// The UI is built by `npm ci` (prepare -> npm run build); these tests read that build.
const root = defaultUiRoot();
const builtIndex = readFileSync(join(root, 'index.html'), 'utf8');
const bundle = readdirSync(join(root, 'assets')).find((f) => f.endsWith('.js'))!;

let t: Awaited<ReturnType<typeof startTestApp>>;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe('the web UI served by the API process', () => {
  it('answers / with the built index.html under a strict Content-Security-Policy', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toBe(builtIndex);
    expect(res.headers['content-security-policy']).toBe(UI_CONTENT_SECURITY_POLICY);
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['x-frame-options']).toBe('DENY');
  });

  it('the built page has no inline script and loads everything from this origin', () => {
    const scripts = [...builtIndex.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(body!.trim()).toBe('');
      expect(attrs).toMatch(/src="\/assets\//);
    }
    expect(builtIndex).not.toMatch(/https?:\/\//);
  });

  it('answers UI routes (history-API paths) with index.html, so a reload opens the screen', async () => {
    for (const url of ['/inbox', '/inbox?queue=billing', '/cases/c-123', '/console/sla']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.body, url).toBe(builtIndex);
    }
  });

  it('never shadows API paths: unknown ones stay problem+json 404s', async () => {
    for (const url of ['/v1/nope', '/v1', '/docs/nope', '/health/x', '/ready/x', '/metrics/x', '/openapi.json/x']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type'], url).toMatch(/^application\/problem\+json/);
      expect(res.json().code, url).toBe('ROUTE_NOT_FOUND');
    }
    // and the real ones still answer as before
    expect((await t.app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok' });
    expect((await t.app.inject({ method: 'GET', url: '/openapi.json' })).json().openapi).toBe('3.1.0');
  });

  it('serves the hashed bundles with a long cache and the same policy; a missing asset is a 404', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/assets/${bundle}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/javascript/);
    expect(res.headers['cache-control']).toContain('immutable');
    expect(res.headers['content-security-policy']).toBe(UI_CONTENT_SECURITY_POLICY);
    const missing = await t.app.inject({ method: 'GET', url: '/assets/nope.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.body).not.toBe(builtIndex);
  });

  it('answers 503 problem+json naming the fix when the UI was never built', async () => {
    const app = Fastify();
    await app.register(problemDetails);
    await app.register(uiRoutes, { root: mkdtempSync(join(tmpdir(), 'tessera-ui-')) });
    const res = await app.inject({ method: 'GET', url: '/inbox' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'UI_NOT_BUILT' });
    expect(res.json().detail).toContain('npm run build');
    await app.close();
  });
});
