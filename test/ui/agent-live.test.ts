/**
 * The agent screens live: the inbox shows a task queued to my team without a reload (the
 * stream's list events), and two agents on the same case see each other (presence events).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueId } from '../support/platform.js';
import { launchBrowser, screenshot, signInViaApi } from './support/browser.js';
import { startUiServer, type UiServer } from './support/ui-server.js';

/** This file's own queue: cases other test files open in `billing` never reach its inbox or next work. */
const TEAM = uniqueId('ui-billing');

let s: UiServer;
beforeAll(async () => {
  s = await startUiServer();
});
afterAll(() => s.close());

const TIMEOUT = { timeout: 180_000 };

describe('the agent screens, live', () => {
  it('a case queued to my team appears in my open inbox without a reload', TIMEOUT, async () => {
    const agent = await s.createPerson('agent', { teams: [TEAM] });
    const b = await launchBrowser(s.baseUrl);
    try {
      await signInViaApi(b, agent.username, agent.password);
      // The inbox's stream is open (its headers arrived) before the case is opened.
      const stream = b.page.waitForResponse((r) => r.url().includes('/v1/stream') && r.status() === 200);
      await b.page.goto('/inbox');
      await b.page.locator('table.rows').waitFor();
      await stream;
      const title = `Live dispute ${Date.now()}`;
      await s.api('POST', '/v1/cases', { template: 'billing-dispute', queue: TEAM, title, case_file: { account: { id: 'acc-live' } } });
      await b.page.locator('table.rows tbody tr', { hasText: title }).first().waitFor({ timeout: 20_000 });
      await screenshot(b.page, 'agent-inbox-live');
    } finally {
      await b.close();
    }
  });

  it("a change someone else makes shows on my open case screen without a reload", TIMEOUT, async () => {
    const agent = await s.createPerson('agent', { teams: [TEAM] });
    const c = await s.api<{ id: string }>('POST', '/v1/cases', { template: 'billing-dispute', queue: TEAM, title: 'Watched case', case_file: { account: { id: 'acc-w' } } });
    const b = await launchBrowser(s.baseUrl);
    try {
      await signInViaApi(b, agent.username, agent.password);
      const stream = b.page.waitForResponse((r) => r.url().includes('/v1/stream') && r.status() === 200);
      await b.page.goto(`/cases/${c.id}`);
      await b.page.locator('#case-title').waitFor();
      await stream;
      await s.api('POST', `/v1/cases/${c.id}/content`, { kind: 'note', data: { text: 'the colleague called the customer' } }, undefined, 201);
      await b.page.locator('.note .text', { hasText: 'the colleague called the customer' }).waitFor({ timeout: 20_000 });
      await b.page.locator('.timeline li[data-type="content.added"]').first().waitFor({ timeout: 20_000 });
    } finally {
      await b.close();
    }
  });

  it('two agents on the same case see each other', TIMEOUT, async () => {
    const ana = await s.createPerson('agent', { teams: [TEAM] });
    const ben = await s.createPerson('agent', { teams: [TEAM] });
    const c = await s.api<{ id: string }>('POST', '/v1/cases', { template: 'billing-dispute', queue: TEAM, title: 'Shared case', case_file: { account: { id: 'acc-p' } } });
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
