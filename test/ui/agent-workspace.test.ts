/**
 * What agents of Zendesk- and Salesforce-style consoles expect besides the flows: people by
 * name (never by id), names as text even when they carry markup; `?` lists the shortcuts; a
 * failing server says what happened to the change and what to do; the inbox says how many it
 * shows. axe-core finds no serious or critical violation with the shortcut list open.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueId } from '../support/platform.js';
import { seriousViolations } from './support/axe.js';
import { launchBrowser, screenshot, signInViaApi } from './support/browser.js';
import { startUiServer, type Person, type UiServer } from './support/ui-server.js';

const TEAM = uniqueId('ui-workspace');
const require = createRequire(import.meta.url);
const axeSource = readFile(require.resolve('axe-core/axe.min.js'), 'utf8');

async function axe(page: Page) {
  await page.evaluate(await axeSource);
  return seriousViolations(page);
}

let s: UiServer;
let agent: Person;
let owner: Person;
const OWNER_NAME = '<i>Zoë</i> Owner';
beforeAll(async () => {
  s = await startUiServer();
  agent = await s.createPerson('agent', { teams: [TEAM], displayName: 'Ada Agent', capacity: { default: 10 } });
  owner = await s.createPerson('agent', { teams: [TEAM], displayName: OWNER_NAME });
});
afterAll(() => s.close());

const TIMEOUT = { timeout: 180_000 };
const pageErrors = (errors: string[]) => errors.filter((e) => !e.includes('Failed to load resource'));

describe('the agent workspace', () => {
  it('shows people by display name, as text, with the id on hover; the timeline names its actors', TIMEOUT, async () => {
    const opened = await s.api<{ id: string }>('POST', '/v1/cases', { template: 'billing-dispute', queue: TEAM, owner_id: owner.id, title: `Named ${Date.now()}`, case_file: { account: { id: 'acc-w' } } });
    await s.api('POST', `/v1/cases/${opened.id}/content`, { kind: 'note', data: { text: 'from the owner' } }, owner.headers, 201);
    const b = await launchBrowser(s.baseUrl);
    try {
      await signInViaApi(b, agent.username, agent.password);
      await b.page.goto(`/cases/${opened.id}`);
      const ownerField = b.page.locator('.case-header dd .person');
      await expect.poll(() => ownerField.textContent(), { timeout: 15_000 }).toBe(OWNER_NAME);
      expect(await ownerField.getAttribute('title')).toBe(owner.id);
      expect(await b.page.locator('main i').count()).toBe(0);
      // The owner's note in the timeline is by name.
      const noteEntry = b.page.locator('.timeline li[data-type^="content."]').first();
      await expect.poll(() => noteEntry.locator('.meta span[title]').textContent(), { timeout: 15_000 }).toBe(OWNER_NAME);
      // Times are relative, the exact time on hover.
      const time = noteEntry.locator('time');
      expect(await time.textContent()).toMatch(/just now|min ago/);
      expect(await time.getAttribute('title')).toBeTruthy();
      expect(pageErrors(b.errors)).toEqual([]);
    } finally {
      await b.close();
    }
  });

  it('? lists the shortcuts of the screen; Escape closes it; no serious a11y violation', TIMEOUT, async () => {
    await s.api('POST', '/v1/cases', { template: 'billing-dispute', queue: TEAM, title: `Inbox row ${Date.now()}`, case_file: { account: { id: 'acc-w' } } });
    const b = await launchBrowser(s.baseUrl);
    try {
      await signInViaApi(b, agent.username, agent.password);
      await b.page.goto('/inbox');
      await b.page.locator('table.rows tbody tr').first().waitFor();
      // The inbox says what it shows.
      expect(await b.page.locator('table.rows caption').textContent()).toMatch(/^\d+ open tasks?/);
      await b.page.keyboard.press('?');
      const dialog = b.page.getByRole('dialog', { name: 'Keyboard shortcuts' });
      await dialog.waitFor();
      const rows = await dialog.locator('tbody tr').allTextContents();
      expect(rows.some((r) => r.includes('Get next work'))).toBe(true);
      expect(rows.some((r) => r.includes('Go to the inbox'))).toBe(true);
      expect(await axe(b.page)).toEqual([]);
      await screenshot(b.page, 'agent-shortcuts');
      await b.page.keyboard.press('Escape');
      await expect.poll(() => dialog.count()).toBe(0);
      expect(pageErrors(b.errors)).toEqual([]);
    } finally {
      await b.close();
    }
  });

  it('a server failure on a write says the change was not saved and what to do, and the note stays in the box', TIMEOUT, async () => {
    const opened = await s.api<{ id: string }>('POST', '/v1/cases', { template: 'billing-dispute', queue: TEAM, title: `Failing ${Date.now()}`, case_file: { account: { id: 'acc-w' } } });
    const b = await launchBrowser(s.baseUrl);
    try {
      await signInViaApi(b, agent.username, agent.password);
      await b.page.goto(`/cases/${opened.id}`);
      await b.page.locator('#note-text').waitFor();
      await b.page.route('**/v1/cases/*/content', (route) =>
        route.request().method() === 'POST'
          ? route.fulfill({ status: 503, contentType: 'application/problem+json', body: JSON.stringify({ status: 503, title: 'Service Unavailable' }) })
          : route.fallback(),
      );
      await b.page.locator('#note-text').fill('a note that meets a failing server');
      await b.page.getByRole('button', { name: 'Add note' }).click();
      const toast = b.page.locator('.toast.error');
      await toast.waitFor();
      expect(await toast.textContent()).toMatch(/HTTP 503.*Your change was not saved.*Try again/);
      expect(await b.page.locator('#note-text').inputValue()).toBe('a note that meets a failing server');
      const notes = await s.api<{ items: unknown[] }>('GET', `/v1/cases/${opened.id}/content`);
      expect(notes.items).toEqual([]);
      await b.page.getByRole('button', { name: 'Dismiss this message' }).click();
      await expect.poll(() => toast.count()).toBe(0);
    } finally {
      await b.close();
    }
  });
});
