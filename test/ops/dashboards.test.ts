/**
 * The Grafana dashboard (ops/grafana/tessera-dashboard.json) and the Prometheus alert rules
 * (ops/prometheus/alerts.yml) use only metrics a real GET /metrics exposes: every metric name in
 * every PromQL expression is looked up in a scrape of the app on real Postgres and Redis.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, bearer, startTestApp } from '../support/platform.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** Series Prometheus writes itself for every target, never in an exporter's text. */
const WRITTEN_BY_PROMETHEUS = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);
const NOT_METRICS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** Metric names in a PromQL expression: identifiers that are not functions, keywords, label matchers, durations or strings. */
function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range durations
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // grouping label lists
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = stripped.slice(m.index + m[0].length).trimStart();
    if (after.startsWith('(')) continue; // a function
    if (NOT_METRICS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

/** Every series name a scrape can hold: `# TYPE` names, with a histogram's/summary's sample suffixes. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)/.exec(line);
    if (!m) continue;
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

function dashboardExprs(): string[] {
  const dash = JSON.parse(readFileSync(`${root}ops/grafana/tessera-dashboard.json`, 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  return dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

function alertExprs(): { alert: string; expr: string }[] {
  const rules = parse(readFileSync(`${root}ops/prometheus/alerts.yml`, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
  return rules.groups.flatMap((g) => g.rules.map((r) => ({ alert: r.alert, expr: String(r.expr) })));
}

let t: Awaited<ReturnType<typeof startTestApp>>;
let exposed: Set<string>;

beforeAll(async () => {
  t = await startTestApp();
  const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: bearer(ADMIN_KEY) });
  expect(res.statusCode).toBe(200);
  exposed = exposedNames(res.body);
});
afterAll(() => t.close());

describe('dashboard and alert rules', () => {
  it('extracts metric names from PromQL, not functions, labels or keywords', () => {
    expect(metricNamesIn('histogram_quantile(0.99, sum by (le, route) (rate(tessera_http_request_duration_seconds_bucket{route!="/v1/x"}[5m]))) > 0.5').sort()).toEqual([
      'tessera_http_request_duration_seconds_bucket',
    ]);
    expect(metricNamesIn('max(a_one{status="failed"}) > 0 or max(b_two) / on (instance) c_three').sort()).toEqual(['a_one', 'b_two', 'c_three']);
  });

  it('the scrape knows histogram suffixes and the readiness gauge reads 1 on a healthy app', async () => {
    expect(exposed.has('tessera_timer_lateness_seconds_bucket')).toBe(true);
    expect(exposed.has('tessera_command_duration_seconds_count')).toBe(true);
    expect(exposed.has('tessera_no_such_metric')).toBe(false);
    const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: bearer(ADMIN_KEY) });
    expect(res.body).toMatch(/^tessera_ready 1$/m);
  });

  it('every metric the Grafana dashboard queries exists in /metrics', () => {
    const exprs = dashboardExprs();
    expect(exprs.length).toBeGreaterThanOrEqual(10);
    const used = new Set(exprs.flatMap(metricNamesIn));
    for (const name of ['tessera_sla_points_total', 'tessera_timer_lateness_seconds_bucket', 'tessera_webhook_dead_letters', 'tessera_inbox_rows', 'tessera_ready']) {
      expect(used.has(name), `dashboard uses ${name}`).toBe(true);
    }
    const missing = [...used].filter((n) => !exposed.has(n) && !WRITTEN_BY_PROMETHEUS.has(n));
    expect(missing).toEqual([]);
  });

  it('every metric an alert rule uses exists in /metrics', () => {
    const rules = alertExprs();
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining(['TesseraNotReady', 'TesseraSlaBreachRateHigh', 'TesseraTimersLate', 'TesseraWebhookDeadLetters', 'TesseraInboxBacklog']));
    const missing = rules.flatMap((r) => metricNamesIn(r.expr).filter((n) => !exposed.has(n) && !WRITTEN_BY_PROMETHEUS.has(n)).map((n) => `${r.alert}: ${n}`));
    expect(missing).toEqual([]);
  });
});
