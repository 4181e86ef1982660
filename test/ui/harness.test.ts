/**
 * The browser harness itself: Debian's Chromium starts from the system executable, a session
 * made through the public API is the browser's (its cookie authorizes the page's requests), two
 * launches are two people, requests to other origins are refused, and the axe helper reports a
 * critical violation on a bad page and none on a clean one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousViolations } from './support/axe.js';
import { launchBrowser, screenshot, signInViaApi } from './support/browser.js';
import { startUiServer, type UiServer } from './support/ui-server.js';
import { existsSync } from 'node:fs';

let s: UiServer;
beforeAll(async () => {
  s = await startUiServer();
});
afterAll(() => s.close());

const fetchJson = (path: string) =>
  `fetch(${JSON.stringify(path)}, { credentials: 'same-origin' }).then(async (r) => ({ status: r.status, body: await r.json() }))`;

describe('browser harness', () => {
  it('two browsers signed in as two people see themselves; an unsigned page gets 401', { timeout: 180_000 }, async () => {
    const agent = await s.createPerson('agent', { teams: ['billing'] });
    const supervisor = await s.createPerson('supervisor');
    const a = await launchBrowser(s.baseUrl);
    const b = await launchBrowser(s.baseUrl);
    try {
      await a.page.goto('/health');
      await b.page.goto('/health');
      const before = await a.page.evaluate(fetchJson('/v1/me'));
      expect(before).toMatchObject({ status: 401 });

      await signInViaApi(a, agent.username, agent.password);
      await signInViaApi(b, supervisor.username, supervisor.password);
      expect(await a.page.evaluate(fetchJson('/v1/me'))).toMatchObject({ status: 200, body: { user_id: agent.id, role: 'agent', teams: ['billing'] } });
      expect(await b.page.evaluate(fetchJson('/v1/me'))).toMatchObject({ status: 200, body: { user_id: supervisor.id, role: 'supervisor' } });
      expect(a.errors.filter((e) => !e.includes('401'))).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses requests to any other origin and records them', { timeout: 120_000 }, async () => {
    const a = await launchBrowser(s.baseUrl);
    try {
      await a.page.goto('/health');
      const result = await a.page.evaluate(`fetch('http://127.0.0.2:9/x').then(() => 'reached', () => 'refused')`);
      expect(result).toBe('refused');
      expect(a.errors).toContain('blocked request to another origin: http://127.0.0.2:9/x');
    } finally {
      await a.close();
    }
  });

  it('axe reports serious/critical violations of a bad page and none of a clean one; screenshots land in test-results', { timeout: 120_000 }, async () => {
    const a = await launchBrowser(s.baseUrl);
    try {
      await a.page.goto('/health');
      await a.page.setContent('<!doctype html><html><head><title>bad</title></head><body><main><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><button></button></main></body></html>');
      const bad = await seriousViolations(a.page);
      expect(bad.map((v) => v.id).sort()).toEqual(expect.arrayContaining(['button-name', 'html-has-lang', 'image-alt']));
      await a.page.setContent('<!doctype html><html lang="en"><head><title>good</title></head><body><main><h1>Fine</h1><button>Save</button></main></body></html>');
      expect(await seriousViolations(a.page)).toEqual([]);
      const file = await screenshot(a.page, 'harness-clean-page');
      expect(existsSync(file)).toBe(true);
    } finally {
      await a.close();
    }
  });
});
