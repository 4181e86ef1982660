/**
 * The agent's screens in Debian's Chromium: sign in -> inbox -> get next work -> case -> a task
 * form whose bad field shows the server's message at the field (and changes nothing) -> the
 * completed task moves the fragment's diagram -> a discretionary fragment from the planning
 * table appears with its current state. A post carrying markup shows as text. The inbox and
 * the task form work from the keyboard alone. axe-core finds no serious or critical violation
 * on the sign-in, inbox and case screens. Screenshots go to test-results/screenshots.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueId } from '../support/platform.js';
import { seriousViolations } from './support/axe.js';
import { launchBrowser, screenshot, signInViaApi } from './support/browser.js';
import { startUiServer, type Person, type UiServer } from './support/ui-server.js';

/** This file's own queue: cases other test files open in `billing` never reach its inbox or next work. */
const TEAM = uniqueId('ui-billing');

const require = createRequire(import.meta.url);
const axeSource = readFile(require.resolve('axe-core/axe.min.js'), 'utf8');

/** axe under the UI's CSP: evaluated through the debugging protocol (an injected <script> is refused by script-src 'self'). */
async function axe(page: Page) {
  await page.evaluate(await axeSource);
  return seriousViolations(page);
}

let s: UiServer;
let agent: Person;
beforeAll(async () => {
  s = await startUiServer();
  agent = await s.createPerson('agent', { teams: [TEAM], capacity: { default: 10 } });
});
afterAll(() => s.close());

interface CaseLite {
  id: string;
  version: number;
  fragments: { id: string; definition: string; states: string[] }[];
  tasks: { id: string; title: string; status: string; assignee_id: string | null }[];
}

async function openBillingCase(title: string, priority: 'normal' | 'high' | 'urgent' = 'urgent'): Promise<CaseLite> {
  return s.api<CaseLite>('POST', '/v1/cases', { template: 'billing-dispute', queue: TEAM, title, priority, case_file: { account: { id: 'acc-ui' } } });
}

const TIMEOUT = { timeout: 180_000 };

/**
 * Script errors of the page. Chromium logs every non-2xx fetch as "Failed to load resource"
 * (the 401 before sign-in, the 422 this test provokes): those are answers, not errors.
 */
const pageErrors = (errors: string[]) => errors.filter((e) => !e.includes('Failed to load resource'));

describe('the agent screens', () => {
  it('sign in -> inbox -> get next work -> case -> task form (server error at the field) -> diagram moves -> discretionary fragment', TIMEOUT, async () => {
    const opened = await openBillingCase(`Disputed charge ${Date.now()}`);
    const b = await launchBrowser(s.baseUrl);
    try {
      const { page } = b;
      await page.goto('/');
      await page.getByLabel('Username').waitFor();
      expect(await axe(page)).toEqual([]);
      await screenshot(page, 'agent-sign-in');

      // A wrong password: the server's message, still on sign-in.
      await page.getByLabel('Username').fill(agent.username);
      await page.getByLabel('Password').fill('wrong password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.locator('#sign-in-error').textContent()).toContain('wrong password');

      await page.getByLabel('Password').fill(agent.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL('**/inbox');
      const row = page.locator('table.rows tbody tr', { hasText: opened.tasks[0]!.title });
      await row.first().waitFor();
      expect(await axe(page)).toEqual([]);
      await screenshot(page, 'agent-inbox');

      // The case has two open tasks of the same priority and breach time (verify identity, notify
      // the customer): next work may hand out either first, and hands out the other on the next ask.
      let caseId = '';
      let taskId = '';
      let before!: CaseLite;
      for (let ask = 1; ask <= 2; ask++) {
        if (ask > 1) {
          await page.goto('/inbox');
          await page.locator('table.rows').waitFor();
        }
        await page.getByRole('button', { name: /Get next work/ }).click();
        await page.waitForURL(/\/cases\/[^/?]+\?task=/);
        const url = new URL(page.url());
        caseId = url.pathname.split('/').pop()!;
        taskId = url.searchParams.get('task')!;
        before = await s.api<CaseLite>('GET', `/v1/cases/${caseId}`);
        const handed = before.tasks.find((t) => t.id === taskId)!;
        expect(caseId).toBe(opened.id);
        expect(handed.assignee_id).toBe(agent.id);
        if (handed.title === "Verify the customer's identity") break;
      }
      const task = before.tasks.find((t) => t.id === taskId)!;
      expect(task.title).toBe("Verify the customer's identity");
      const fragment = before.fragments.find((f) => f.states.includes('verifying'))!;
      const form = page.locator(`form[data-task="${taskId}"]`);
      await form.waitFor();
      const diagram = page.locator(`[data-fragment="${fragment.id}"] [data-current-states]`);
      expect(await diagram.textContent()).toBe('verifying');
      // The server's layout drawn as SVG, the current state marked.
      const currentNode = page.locator(`[data-fragment="${fragment.id}"] svg .node.current`);
      await currentNode.first().waitFor();
      expect(await currentNode.getAttribute('data-state')).toBe('verifying');
      expect(await axe(page)).toEqual([]);
      await screenshot(page, 'agent-case');

      // A bad field: the server's 422 at that field, nothing changed.
      await form.getByLabel('method').selectOption('one_time_code');
      await form.getByLabel('passed').check();
      await form.getByLabel('reference').fill('x'.repeat(101));
      await form.getByRole('button', { name: 'Complete task' }).click();
      const fieldError = form.locator('[data-pointer="/reference"]');
      await fieldError.waitFor();
      expect(await fieldError.textContent()).toMatch(/100/);
      expect(await form.getByLabel('reference').getAttribute('aria-invalid')).toBe('true');
      await screenshot(page, 'agent-task-form-error');
      const unchanged = await s.api<CaseLite>('GET', `/v1/cases/${caseId}`);
      expect(unchanged.version).toBe(before.version);
      expect(unchanged.tasks.find((t) => t.id === taskId)!.status).toBe('open');

      // Fixed: completed, and the fragment's diagram moves to its next state.
      await form.getByLabel('reference').fill('OTC-1234');
      await form.getByRole('button', { name: 'Complete task' }).click();
      await expect.poll(() => diagram.textContent(), { timeout: 15_000 }).toBe('verified');
      await expect.poll(() => currentNode.getAttribute('data-state'), { timeout: 15_000 }).toBe('verified');
      const after = await s.api<CaseLite>('GET', `/v1/cases/${caseId}`);
      expect(after.tasks.find((t) => t.id === taskId)?.status ?? 'closed').not.toBe('open');

      // The planning table: add the template's discretionary credit note.
      await page.getByLabel('Fragment', { exact: true }).selectOption('credit-note@1');
      await page.getByLabel('Reason', { exact: true }).fill('customer prefers a credit note');
      await page.getByRole('button', { name: 'Add to plan' }).click();
      await expect.poll(async () => (await s.api<CaseLite>('GET', `/v1/cases/${caseId}`)).fragments.some((f) => f.definition === 'credit-note@1'), { timeout: 15_000 }).toBe(true);
      const added = (await s.api<CaseLite>('GET', `/v1/cases/${caseId}`)).fragments.find((f) => f.definition === 'credit-note@1')!;
      const addedDiagram = page.locator(`[data-fragment="${added.id}"] [data-current-states]`);
      await expect.poll(() => addedDiagram.textContent(), { timeout: 15_000 }).toBe('issuing');
      await expect.poll(() => page.locator(`[data-fragment="${added.id}"] svg .node.current`).getAttribute('data-state'), { timeout: 15_000 }).toBe('issuing');
      await screenshot(page, 'agent-case-after');
      expect(pageErrors(b.errors)).toEqual([]);
    } finally {
      await b.close();
    }
  });

  it('a post and a note carrying markup show as text and run nothing', TIMEOUT, async () => {
    const payload = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`;
    const name = `<img src=x onerror="window.__xss=3">Mallory`;
    const opened = await s.api<CaseLite>('POST', '/v1/cases', {
      template: 'billing-dispute', queue: TEAM,
      title: 'XSS probe <b>bold</b>',
      customer: { email: `mallory.${Date.now()}@example.com`, name },
      case_file: { account: { id: 'acc-x' } },
    });
    await s.api('POST', `/v1/cases/${opened.id}/content`, { kind: 'social_post', data: { channel: 'x', post_id: `p-${Date.now()}`, author_handle: '<b>mallory</b>', text: payload } }, undefined, 201);
    await s.api('POST', `/v1/cases/${opened.id}/content`, { kind: 'note', data: { text: payload } }, undefined, 201);
    const b = await launchBrowser(s.baseUrl);
    try {
      await signInViaApi(b, agent.username, agent.password);
      await b.page.goto(`/cases/${opened.id}`);
      const post = b.page.locator('.post .text');
      await post.first().waitFor();
      expect(await post.first().textContent()).toBe(payload);
      expect(await b.page.locator('.note .text').first().textContent()).toBe(payload);
      expect(await b.page.locator('.content img').count()).toBe(0);
      expect(await b.page.locator('.content script').count()).toBe(0);
      expect(await b.page.locator('.content b').count()).toBe(0);
      // The customer's name and the case title, in the header and the 360, are text too.
      expect(await b.page.locator('#case-title').textContent()).toBe('XSS probe <b>bold</b>');
      expect(await b.page.locator('.case-header dd', { hasText: 'Mallory' }).textContent()).toBe(name);
      await b.page.locator('.customer dd', { hasText: 'Mallory' }).first().waitFor();
      expect(await b.page.locator('.customer dd', { hasText: 'Mallory' }).first().textContent()).toBe(name);
      expect(await b.page.locator('main img, main b, main script').count()).toBe(0);
      expect(await b.page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();
      await screenshot(b.page, 'agent-case-xss');
      expect(pageErrors(b.errors)).toEqual([]);
    } finally {
      await b.close();
    }
  });

  it('the inbox and the task form work from the keyboard alone, with visible focus', TIMEOUT, async () => {
    const kb = await s.createPerson('agent', { teams: [TEAM], capacity: { default: 10 } });
    const opened = await openBillingCase(`Keyboard case ${Date.now()}`);
    const b = await launchBrowser(s.baseUrl);
    try {
      const { page } = b;
      await signInViaApi(b, kb.username, kb.password);
      await page.goto('/inbox');
      await page.locator('table.rows tbody tr').first().waitFor();
      // "/" focuses the search; typing filters the URL-held query.
      await page.keyboard.press('/');
      expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } } }).document.activeElement.id)).toBe('f-q');
      await page.keyboard.type('Keyboard case');
      await page.waitForURL(/q=Keyboard/);
      // Tab leaves the search for the first row's link; j / k move between rows; the focus is visible; Enter opens.
      await page.keyboard.press('Tab');
      const focused = page.locator('a.open-case:focus');
      await focused.waitFor();
      await page.keyboard.press('j');
      await page.keyboard.press('k');
      await focused.waitFor();
      const outline = await focused.evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { outlineStyle: string } }).getComputedStyle(el).outlineStyle);
      expect(outline).not.toBe('none');
      await page.keyboard.press('Enter');
      await page.waitForURL(new RegExp(`/cases/${opened.id}`));
      // Claim the verify task with the keyboard, then fill its form with Tab, arrows and Space.
      const form = page.locator('form[data-task]').filter({ hasText: "Verify the customer's identity" });
      await form.waitFor();
      const claim = form.getByRole('button', { name: 'Claim' });
      await claim.focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => form.getByRole('button', { name: 'Claim' }).count(), { timeout: 15_000 }).toBe(0);
      await form.getByLabel('method').focus();
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { type: string } } }).document.activeElement.type)).toBe('checkbox');
      await page.keyboard.press('Space');
      await page.keyboard.press('Tab');
      await page.keyboard.type('KB-1');
      await page.keyboard.press('Enter');
      const frag = (await s.api<CaseLite>('GET', `/v1/cases/${opened.id}`)).fragments.find((f) => f.definition === 'verify-identity@1')!;
      await expect.poll(async () => (await s.api<CaseLite>('GET', `/v1/cases/${opened.id}`)).fragments.find((f) => f.id === frag.id)!.states, { timeout: 15_000 }).toEqual(['verified']);
      await screenshot(page, 'agent-keyboard');
      expect(pageErrors(b.errors)).toEqual([]);
    } finally {
      await b.close();
    }
  });

  it('a stale edit (412) says so, reloads and never overwrites', TIMEOUT, async () => {
    const opened = await openBillingCase('Stale edit');
    const b = await launchBrowser(s.baseUrl);
    try {
      // No live stream in this browser, so the screen really holds an old version.
      await b.page.route('**/v1/stream**', (route) => route.abort());
      await signInViaApi(b, agent.username, agent.password);
      await b.page.goto(`/cases/${opened.id}`);
      await b.page.getByLabel('Add a note').waitFor();
      // Someone else changes the case meanwhile.
      await s.api('POST', `/v1/cases/${opened.id}/content`, { kind: 'note', data: { text: 'written by a colleague' } }, undefined, 201);
      const before = await s.api<CaseLite>('GET', `/v1/cases/${opened.id}`);
      await b.page.getByLabel('Add a note').fill('my late note');
      await b.page.getByRole('button', { name: 'Add note' }).click();
      const stale = b.page.locator('.stale');
      await stale.waitFor();
      expect(await stale.textContent()).toContain('NOT applied');
      // Reloaded: the colleague's note is on screen, mine was not written.
      await b.page.locator('.note .text', { hasText: 'written by a colleague' }).waitFor();
      const after = await s.api<CaseLite>('GET', `/v1/cases/${opened.id}`);
      expect(after.version).toBe(before.version);
      const content = await s.api<{ items: { data: { text?: string } }[] }>('GET', `/v1/cases/${opened.id}/content`);
      expect(content.items.map((i) => i.data.text)).not.toContain('my late note');
      await screenshot(b.page, 'agent-case-stale');
    } finally {
      await b.close();
    }
  });

  it('adapt and hold dialogs: a reason is required, migrate shows its dry run before it applies, a hold pauses the goal clocks', TIMEOUT, async () => {
    const supervisor = await s.createPerson('supervisor');
    const opened = await openBillingCase('Dialogs', 'high');
    const notify = opened.fragments.find((f) => f.definition === 'notify-customer@1')!;
    const b = await launchBrowser(s.baseUrl);
    try {
      const { page } = b;
      await signInViaApi(b, supervisor.username, supervisor.password);
      await page.goto(`/cases/${opened.id}`);
      await page.locator(`[data-fragment-id="${notify.id}"]`).getByRole('button', { name: 'migrate' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      expect(await dialog.getByLabel('Migrate to (key@version)').inputValue()).toBe('notify-customer@2');
      await dialog.getByLabel(/State mapping/).fill('notifying -> drafting');
      await dialog.getByRole('button', { name: 'Preview (dry run)' }).click();
      expect(await dialog.locator('.field-error').first().textContent()).toContain('reason is required');
      await dialog.getByLabel('Reason (required)').fill('use the reviewed notice');
      await dialog.getByRole('button', { name: 'Preview (dry run)' }).click();
      await dialog.getByText('Dry run — nothing changed yet.').waitFor();
      expect(await axe(page)).toEqual([]);
      await screenshot(page, 'agent-adapt-dry-run');
      const previewed = await s.api<CaseLite>('GET', `/v1/cases/${opened.id}`);
      expect(previewed.version).toBe(opened.version);
      expect(previewed.fragments.find((f) => f.id === notify.id)!.definition).toBe('notify-customer@1');

      await dialog.getByRole('button', { name: 'Apply migration' }).click();
      await dialog.waitFor({ state: 'detached' });
      const migrated = (await s.api<CaseLite>('GET', `/v1/cases/${opened.id}`)).fragments.find((f) => f.id === notify.id)!;
      expect(migrated.definition).toBe('notify-customer@2');
      expect(migrated.states).toEqual(['drafting']);
      await expect.poll(() => page.locator(`[data-fragment="${notify.id}"] [data-current-states]`).textContent(), { timeout: 15_000 }).toBe('drafting');

      await page.getByRole('button', { name: 'Hold' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Put' }).click();
      expect(await page.getByRole('dialog').locator('.field-error').textContent()).toContain('reason is required');
      expect((await s.api<{ status: string }>('GET', `/v1/cases/${opened.id}`)).status).toBe('open');
      await page.getByRole('dialog').getByLabel('Reason (required)').fill('waiting for the invoice copy');
      await page.getByRole('dialog').getByRole('button', { name: 'Put' }).click();
      await page.locator('.goal .badge', { hasText: 'Paused: case on hold — waiting for the invoice copy' }).first().waitFor({ timeout: 15_000 });
      expect((await s.api<{ status: string }>('GET', `/v1/cases/${opened.id}`)).status).toBe('on_hold');
      await screenshot(page, 'agent-case-on-hold');
      await page.getByRole('button', { name: 'Resume' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Resume' }).click();
      await expect.poll(async () => (await s.api<{ status: string }>('GET', `/v1/cases/${opened.id}`)).status, { timeout: 15_000 }).toBe('open');
      expect(pageErrors(b.errors)).toEqual([]);
    } finally {
      await b.close();
    }
  });

  it('an agent of another team is shown that the case is not available', TIMEOUT, async () => {
    const other = await s.createPerson('agent', { teams: ['repairs'] });
    const opened = await openBillingCase('Not for repairs');
    const b = await launchBrowser(s.baseUrl);
    try {
      await signInViaApi(b, other.username, other.password);
      await b.page.goto(`/cases/${opened.id}`);
      const alert = b.page.getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toContain(opened.id);
      expect(await b.page.getByText('Not for repairs').count()).toBe(0);
      await b.page.goto('/inbox');
      await b.page.locator('table.rows').waitFor();
      expect(await b.page.getByText('Not for repairs').count()).toBe(0);
    } finally {
      await b.close();
    }
  });
});
