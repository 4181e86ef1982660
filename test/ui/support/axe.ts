/**
 * axe-core inside the page: injects the library's own bundle (served from node_modules through
 * the page, never fetched) and returns the violations whose impact is serious or critical.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const require = createRequire(import.meta.url);
let source: Promise<string> | undefined;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  helpUrl: string;
  nodes: { target: string[]; html: string; failureSummary?: string }[];
}

/**
 * Runs axe on the current page (or the element matched by `include`) with the WCAG 2.x A/AA rules
 * and best practices, and returns the serious and critical violations. `expect(await
 * seriousViolations(page)).toEqual([])` prints each rule, its help and the offending nodes.
 */
export async function seriousViolations(page: Page, options: { include?: string } = {}): Promise<AxeViolation[]> {
  source ??= readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  // The test's tsconfig has no DOM types: the page's globals are reached through globalThis.
  const already = await page.evaluate(() => typeof (globalThis as { axe?: unknown }).axe !== 'undefined');
  // Evaluated over CDP, not a <script> tag: the UI's CSP (script-src 'self') blocks inline scripts.
  if (!already) await page.evaluate(await source);
  const violations = (await page.evaluate(async (include) => {
    const g = globalThis as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: unknown[] }> }; document: unknown };
    const result = await g.axe.run(include ? { include: [include] } : g.document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    return result.violations;
  }, options.include ?? null)) as AxeViolation[];
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target, html: n.html.slice(0, 300), ...(n.failureSummary ? { failureSummary: n.failureSummary } : {}) })),
    }));
}
