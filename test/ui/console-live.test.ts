/**
 * The supervisor console in the browser, live (issue #12's Done-when): while an agent works a
 * case, a supervisor's open console shows the tile counts and the at-risk list change when the
 * case's warning timer fires — without a reload; an agent of another team gets neither the case
 * nor any live event of it; axe-core finds no serious or critical violation on the console.
 * Screenshots of the console before and after, and of the agent's case screen.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousViolations } from './support/axe.js';
import { launchBrowser, screenshot, signInViaApi } from './support/browser.js';
import { startUiServer, type UiServer } from './support/ui-server.js';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

let s: UiServer;
beforeAll(async () => {
  s = await startUiServer();
});
afterAll(() => s.close());

const require = createRequire(import.meta.url);
/** UI pages forbid inline scripts (CSP): axe goes in through CDP evaluation instead. */
const axeSource = () => readFile(require.resolve('axe-core/axe.min.js'), 'utf8');

const tile = (page: import('playwright-core').Page, k: 'on_track' | 'at_risk' | 'breached') => page.locator(`[data-tile="${k}"] .tile-count`);

describe('supervisor console, live', () => {
  it('tiles and the at-risk list follow a fired warning; another team sees nothing of it; no serious a11y violations', { timeout: 300_000 }, async () => {
    const team = `repairs-${Date.now().toString(36)}`;
    const otherTeam = `billing-${Date.now().toString(36)}`;
    const supervisor = await s.createPerson('supervisor', { displayName: 'Sue Pervisor' });
    const agent = await s.createPerson('agent', { teams: [team], displayName: 'Ada Agent' });
    const outsider = await s.createPerson('agent', { teams: [otherTeam], displayName: 'Otto Outsider' });
    const c = await s.api<{ id: string; goals: { key: string; deadline_at: string | null }[] }>('POST', '/v1/cases', {
      template: 'product-repair',
      title: 'Espresso machine stopped heating',
      queue: team,
      owner_id: agent.id,
    });
    const withDeadline = c.goals.filter((g) => g.deadline_at !== null).length;

    const sup = await launchBrowser(s.baseUrl);
    const ag = await launchBrowser(s.baseUrl);
    const out = await launchBrowser(s.baseUrl);
    try {
      await signInViaApi(sup, supervisor.username, supervisor.password);
      await signInViaApi(ag, agent.username, agent.password);
      await signInViaApi(out, outsider.username, outsider.password);

      // The outsider listens to everything an agent may: their queues and inbox.
      await out.page.goto('/health');
      await out.page.evaluate(`window.__events = []; const es = new EventSource('/v1/stream?lists=inbox,queues');
        for (const t of ['ready','snapshot','case','list','tiles','presence']) es.addEventListener(t, (e) => window.__events.push(t + ' ' + e.data));`);
      await out.page.waitForFunction('window.__events.some((e) => e.startsWith("ready"))', undefined, { timeout: 30_000 });

      // The agent works the case.
      await ag.page.goto(`/cases/${c.id}`);
      await ag.page.locator('#case-title').waitFor({ timeout: 30_000 });
      await screenshot(ag.page, 'console-test-agent-case');

      // The supervisor's console, filtered to the team's queue, with its stream open.
      const stream = sup.page.waitForResponse((r) => r.url().includes('/v1/stream') && r.status() === 200, { timeout: 30_000 });
      await sup.page.goto(`/console?queue=${team}`);
      await stream;
      await expect.poll(() => tile(sup.page, 'on_track').textContent(), { timeout: 30_000 }).toBe(String(withDeadline));
      expect(await tile(sup.page, 'at_risk').textContent()).toBe('0');
      await sup.page.locator('[data-testid="at-risk-empty"]').waitFor();
      // Colour and text: each tile names its state.
      expect(await sup.page.locator('[data-tile="at_risk"] .tile-label').textContent()).toBe('At risk');
      await sup.page.evaluate(await axeSource());
      expect(await seriousViolations(sup.page)).toEqual([]);
      await screenshot(sup.page, 'console-before-warning');

      // The warning timer of the RMA goal fires (as the timer job does).
      await s.fireSlaPoint(c.id, 'rma_issued', 'warning');

      await expect.poll(() => tile(sup.page, 'at_risk').textContent(), { timeout: 30_000 }).toBe('1');
      expect(await tile(sup.page, 'on_track').textContent()).toBe(String(withDeadline - 1));
      const row = sup.page.locator(`[data-testid="at-risk"] tr[data-case="${c.id}"]`);
      await row.waitFor({ timeout: 30_000 });
      expect(await row.textContent()).toContain('At risk');
      expect(await seriousViolations(sup.page)).toEqual([]);
      await screenshot(sup.page, 'console-after-warning');

      // The outsider: no case, no event naming it.
      const hidden = await out.page.evaluate(`fetch('/v1/cases/${c.id}').then((r) => r.status)`);
      expect(hidden).toBe(404);
      const outsiderEvents = (await out.page.evaluate('window.__events')) as string[];
      expect(outsiderEvents.length).toBeGreaterThan(0);
      expect(outsiderEvents.filter((e) => e.includes(c.id))).toEqual([]);
      expect(sup.errors).toEqual([]);
    } finally {
      await Promise.all([sup.close(), ag.close(), out.close()]);
    }
  });

  it('moving a deadline needs a reason and the server journals it', { timeout: 240_000 }, async () => {
    const team = `moves-${Date.now().toString(36)}`;
    const supervisor = await s.createPerson('supervisor');
    const c = await s.api<{ id: string }>('POST', '/v1/cases', { template: 'product-repair', title: 'Deadline to move', queue: team });
    const sup = await launchBrowser(s.baseUrl);
    try {
      await signInViaApi(sup, supervisor.username, supervisor.password);
      await sup.page.goto(`/console?queue=${team}`);
      const row = sup.page.locator(`[data-testid="due-soon"] tr[data-case="${c.id}"]`).first();
      await row.waitFor({ timeout: 30_000 });
      await row.getByRole('button', { name: /Move deadline/ }).click();
      const dialog = sup.page.getByRole('dialog', { name: 'Move deadline' });
      await dialog.waitFor();
      await screenshot(sup.page, 'console-move-deadline');
      // The browser refuses an empty reason (required) before any request is sent.
      await dialog.getByRole('button', { name: 'Move deadline' }).click();
      expect(await dialog.isVisible()).toBe(true);
      await dialog.getByLabel(/Reason/).fill('Customer asked for Monday');
      await dialog.getByRole('button', { name: 'Move deadline' }).click();
      await sup.page.getByRole('status').filter({ hasText: 'moved' }).waitFor({ timeout: 30_000 });
      const journal = await s.database.db.selectFrom('journal').selectAll().where('case_id', '=', c.id).where('type', '=', 'goal.updated').execute();
      expect(journal.map((j) => j.reason)).toEqual(['Customer asked for Monday']);
    } finally {
      await sup.close();
    }
  });
});
