/**
 * UI figures: (1) the initial JavaScript of the agent screens, gzip-compressed, from the build
 * in dist/ui (budget 80 KB); (2) the case screen of a case with 200+ timeline entries rendered in
 * Debian's Chromium: time from navigation to every entry on screen, cold (first load) and warm
 * (median of RUNS reloads). The app runs in this process on a throwaway Postgres database with
 * the in-process job queue; the browser is /usr/bin/chromium (never downloaded). Last line: JSON.
 *
 *   npm run build && npm run bench:ui      (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres;
 *                                           BENCH_WARM_DIAGRAMS=false: diagrams laid out on first use)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { chromium } from 'playwright-core';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { assembleCore } from '../src/core.js';
import { migrateToLatest } from '../src/persistence/migrate.js';
import { openDatabase } from '../src/platform/database.js';
import { createInProcessJobQueue } from '../src/platform/in-process-job-queue.js';
import { createSecretBox, decodeSecretKey } from '../src/platform/secret-box.js';
import { initialJavaScript } from './ui-bundle.js';
import { createBenchDatabase, round } from './support.js';

const SERVER_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ENTRIES = Number(process.env.BENCH_TIMELINE_ENTRIES ?? 200);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
const SECRET_KEY = 'dGVzc2VyYS10ZXN0LXNlY3JldC1rZXktMzItYnl0ZXM=';
const PASSWORD = 'bench password for the ui';
/** As `npm start` does: lay out the library's diagrams when the app is ready (false: on first use, in the worker). */
const WARM_DIAGRAMS = process.env.BENCH_WARM_DIAGRAMS !== 'false';

async function main() {
  const js = initialJavaScript();
  console.log(`initial JavaScript: ${js.files.join(', ')} = ${round(js.rawBytes / 1024)} KB raw, ${round(js.gzipBytes / 1024)} KB gzip (budget 80 KB)`);

  const logger = pino({ level: 'warn' });
  const bench = await createBenchDatabase(SERVER_URL);
  const database = await openDatabase({ databaseUrl: bench.url, dataDir: '/nonexistent', poolSize: 10 });
  const jobs = createInProcessJobQueue({ logger });
  const profile = await mkdtemp(path.join(os.tmpdir(), 'tessera-bench-ui-'));
  let closeAll = async () => {};
  try {
    await migrateToLatest(database.db);
    const core = await assembleCore({ database, jobs, logger, templatesDir: path.resolve(import.meta.dirname, '../case-templates') });
    const config = loadConfig({ DATABASE_URL: bench.url, TESSERA_ADMIN_KEY: ADMIN_KEY, TESSERA_SECRET_KEY: SECRET_KEY, LOG_LEVEL: 'warn', TESSERA_MIGRATE_ON_START: 'false', TESSERA_RATE_LIMIT_PER_MINUTE: '1000000' });
    const app = await buildApp({ config, logger, database, jobs, secrets: createSecretBox(decodeSecretKey(SECRET_KEY)!), core, warmDiagrams: WARM_DIAGRAMS });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const baseUrl = `http://127.0.0.1:${port}`;
    closeAll = async () => {
      await app.close();
      await jobs.close();
    };
    const admin = { authorization: `Bearer ${ADMIN_KEY}` };
    const call = async (method: 'GET' | 'POST', url: string, payload?: object) => {
      const res = await app.inject({ method, url, headers: admin, ...(payload ? { payload } : {}) });
      if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
      return res.json();
    };
    await call('POST', '/v1/users', { username: 'bench-agent', display_name: 'Bench agent', role: 'agent', password: PASSWORD, teams: ['billing'], presence: 'available' });
    const opened = await call('POST', '/v1/cases', { template: 'billing-dispute', title: 'A long case', priority: 'high', case_file: { account: { id: 'acc-bench' } } });
    const countEntries = async () => {
      let n = 0;
      let cursor: string | null = null;
      do {
        const page: { items: unknown[]; next_cursor: string | null } = await call('GET', `/v1/cases/${opened.id}/timeline?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        n += page.items.length;
        cursor = page.next_cursor;
      } while (cursor);
      return n;
    };
    let entries = await countEntries();
    for (let i = 0; entries < ENTRIES; i++) {
      await call('POST', `/v1/cases/${opened.id}/content`, { kind: 'note', data: { text: `Note ${i}: the customer called again about the charge on the last invoice.` } });
      if (i % 20 === 19 || entries + (i % 20) >= ENTRIES) entries = await countEntries();
    }
    entries = await countEntries();
    console.log(`case ${opened.id}: ${entries} timeline entries`);

    const context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.TESSERA_TEST_CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      baseURL: baseUrl,
      viewport: { width: 1280, height: 900 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const signed = await context.request.post('/v1/sessions', { data: { username: 'bench-agent', password: PASSWORD }, headers: { origin: baseUrl } });
    if (signed.status() !== 201) throw new Error(`sign-in failed: ${signed.status()}`);

    // Admins may see every case; the bench agent sees it through the billing queue.
    /**
     * One load of the case screen: `total` from navigation to every entry on screen; `render`
     * from the last API answer the screen waited for (case, timeline pages, content) to that
     * frame — the browser's own work, apart from the server's.
     */
    const render = async () => {
      const t0 = Date.now();
      await page.goto(`/cases/${opened.id}`);
      const painted = await page.waitForFunction(
        (n) => {
          const g = globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } }; performance: { now(): number } };
          return g.document.querySelectorAll('.timeline li').length >= n ? g.performance.now() : false;
        },
        entries,
        { polling: 'raf', timeout: 60_000 },
      );
      const total = Date.now() - t0;
      const at = (await painted.jsonValue()) as number;
      const lastData = await page.evaluate(() =>
        Math.max(
          0,
          ...(globalThis as unknown as { performance: { getEntriesByType(t: string): { name: string; responseEnd: number }[] } }).performance
            .getEntriesByType('resource')
            .filter((e) => /\/v1\/(cases|sessions)\//.test(e.name) && !e.name.includes('/diagram') && !e.name.includes('/stream'))
            .map((e) => e.responseEnd),
        ),
      );
      return { total, render: Math.max(0, Math.round(at - lastData)) };
    };
    const cold = await render();
    if (process.env.BENCH_VERBOSE) {
      const timing = await page.evaluate(() =>
        (globalThis as unknown as { performance: { getEntriesByType(t: string): { name: string; startTime: number; responseEnd: number }[] } }).performance
          .getEntriesByType('resource')
          .map((e) => `${Math.round(e.startTime)}..${Math.round(e.responseEnd)} ${e.name.replace(/^https?:\/\/[^/]+/, '')}`),
      );
      console.log(timing.join('\n'));
    }
    const warm: { total: number; render: number }[] = [];
    for (let i = 0; i < RUNS; i++) warm.push(await render());
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const total = median(warm.map((w) => w.total));
    const rendered = median(warm.map((w) => w.render));
    await context.close();
    console.log(`case screen with ${entries} timeline entries: cold ${cold.total} ms total (${cold.render} ms rendering after the last answer); warm median ${total} ms total, ${rendered} ms rendering (runs ${warm.map((w) => `${w.total}/${w.render}`).join(', ')} ms); budget 1000 ms`);
    console.log(
      JSON.stringify({
        initial_js_gzip_kb: round(js.gzipBytes / 1024),
        initial_js_budget_kb: 80,
        timeline_entries: entries,
        cold_total_ms: cold.total,
        cold_render_ms: cold.render,
        warm_total_median_ms: total,
        warm_render_median_ms: rendered,
        diagrams_warmed_at_start: WARM_DIAGRAMS,
        budget_ms: 1000,
        runs: RUNS,
      }),
    );
  } finally {
    await closeAll().catch(() => undefined);
    await database.close();
    await bench.drop();
    await rm(profile, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
