/**
 * Debian's Chromium driven by playwright-core. Never downloads a browser: the executable is the
 * system one (`apt-get install -y chromium`; `.ci/run` installs it when missing). Each launch is
 * its own browser process with a fresh profile directory, so two launches are two people with
 * their own cookies (an agent and a supervisor side by side).
 */
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.TESSERA_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Where the run writes screenshots (gitignored; not committed). */
export const SCREENSHOT_DIR = path.resolve(import.meta.dirname, '../../../test-results/screenshots');

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-dev-shm-usage',
];

export interface TestBrowser {
  baseUrl: string;
  context: BrowserContext;
  page: Page;
  /** Opens another tab in the same browser (same cookies). */
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/**
 * Launches a browser at `baseUrl` (relative `page.goto('/')` works). The profile directory is
 * created fresh under the OS temp dir and removed on close. Console errors and page errors are
 * collected in `errors` so a test can assert that a screen rendered without script errors.
 */
export async function launchBrowser(baseUrl: string, options: { viewport?: { width: number; height: number } } = {}): Promise<TestBrowser & { errors: string[] }> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No Chromium at ${CHROMIUM}: install Debian's package (apt-get update && apt-get install -y chromium); the tests never download a browser.`);
  }
  const profile = await mkdtemp(path.join(os.tmpdir(), 'tessera-chromium-'));
  // launchPersistentContext owns --user-data-dir (playwright refuses it in args): one fresh
  // profile per launch.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    baseURL: baseUrl,
    viewport: options.viewport ?? { width: 1280, height: 900 },
  });
  const errors: string[] = [];
  const origin = new URL(baseUrl).origin;
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    errors.push(`blocked request to another origin: ${url}`);
    return route.abort();
  });
  const watch = (p: Page) => {
    p.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
    p.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(`console.error: ${msg.text()}`);
    });
  };
  context.on('page', watch);
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page);
  return {
    baseUrl,
    context,
    page,
    errors,
    newPage: () => context.newPage(),
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Signs the browser in through the public API (POST /v1/sessions from inside the page's
 * context, so the session cookie lands in the browser). Tests of the sign-in screen itself
 * fill the form instead; the others start signed in with this.
 */
export async function signInViaApi(browser: TestBrowser, username: string, password: string): Promise<{ csrf_token: string; user: { id: string } }> {
  const res = await browser.context.request.post('/v1/sessions', {
    data: { username, password },
    // Same-origin, as the sign-in form's own request is.
    headers: { origin: new URL(browser.baseUrl).origin },
  });
  if (res.status() !== 201) throw new Error(`sign-in of ${username} failed: ${res.status()} ${await res.text()}`);
  return res.json();
}

/** Writes `<SCREENSHOT_DIR>/<name>.png` (full page) and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name.replace(/[^\w.-]+/g, '-')}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
