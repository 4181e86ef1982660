/**
 * The agent screens live: the inbox shows a task queued to my team without a reload (the
 * stream's list events), and two agents on the same case see each other (presence events).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot, signInViaApi } from './support/browser.js';
import { startUiServer, type UiServer } from './support/ui-server.js';

let s: UiServer;
beforeAll(async () => {
  s = await startUiServer();
});
afterAll(() => s.close());

const TIMEOUT = { timeout: 180_000 };

describe('the agent screens, live', () => {
  it('a case queued to my team appears in my open inbox without a reload', TIMEOUT, async () => {
    const agent = await s.createPerson('agent', { teams: ['billing'] });
    const b = await launchBrowser(s.baseUrl);
    try {
      await signInViaApi(b, agent.username, agent.password);
      await b.page.goto('/inbox');
      await b.page.locator('table.rows').waitFor();
      // The stream is connected before the case is opened (the inbox subscribes on mount).
      await expect.poll(() => b.page.evaluate(() => (globalThis as unknown as { performance: { getEntriesByType(t: string): { name: string }[] } }).performance.getEntriesByType('resource').some((e) => e.name.includes('/v1/stream'))), { timeout: 15_000 }).toBe(true);
      await new Promise((r) => setTimeout(r, 1_000));
      const title = `Live dispute ${Date.now()}`;
      await s.api('POST', '/v1/cases', { template: 'billing-dispute', title, case_file: { account: { id: 'acc-live' } } });
      await b.page.locator('table.rows tbody tr', { hasText: title }).first().waitFor({ timeout: 20_000 });
      await screenshot(b.page, 'agent-inbox-live');
    } finally {
      await b.close();
    }
  });

  it('two agents on the same case see each other', TIMEOUT, async () => {
    const ana = await s.createPerson('agent', { teams: ['billing'] });
    const ben = await s.createPerson('agent', { teams: ['billing'] });
    const c = await s.api<{ id: string }>('POST', '/v1/cases', { template: 'billing-dispute', title: 'Shared case', case_file: { account: { id: 'acc-p' } } });
    const a = await launchBrowser(s.baseUrl);
    const b = await launchBrowser(s.baseUrl);
    try {
      await signInViaApi(a, ana.username, ana.password);
      await signInViaApi(b, ben.username, ben.password);
      await a.page.goto(`/cases/${c.id}`);
      await b.page.goto(`/cases/${c.id}`);
      await a.page.locator('.viewers', { hasText: ben.id }).waitFor({ timeout: 20_000 });
      await b.page.locator('.viewers', { hasText: ana.id }).waitFor({ timeout: 20_000 });
      await screenshot(a.page, 'agent-case-presence');
      await b.page.goto('/inbox');
      await a.page.locator('.viewers', { hasText: 'No one else' }).waitFor({ timeout: 20_000 });
    } finally {
      await a.close();
      await b.close();
    }
  });
});
