/**
 * GET /metrics on real Postgres and Redis: who may scrape it, and that the figures follow what
 * happened — an HTTP request by route pattern, a command by type and outcome, a timer's lateness
 * and SLA point, the state gauges — and that the worker's own port serves the same registry.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi } from '../support/case-api.js';
import { ADMIN_KEY, bearer, startTestApp } from '../support/platform.js';
import { startMetricsServer } from '../../src/ops/metrics-server.js';

const TOKEN = 'scrape-token-0123456789abcdef0123';
let t: Awaited<ReturnType<typeof startTestApp>>;
let agent: Actor;

beforeAll(async () => {
  t = await startTestApp({ config: { TESSERA_METRICS_TOKEN: TOKEN } });
  agent = await createActor(t.database.db, 'agent');
});
afterAll(() => t.close());

async function scrape(headers: Record<string, string> = bearer(TOKEN)) {
  const res = await t.app.inject({ method: 'GET', url: '/metrics', headers });
  return res;
}

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('GET /metrics', () => {
  it('refuses a scrape without a credential, and with a non-admin key, as problem+json', async () => {
    const none = await scrape({});
    expect(none.statusCode).toBe(401);
    expect(none.headers['content-type']).toContain('application/problem+json');
    expect(none.body).not.toContain('tessera_');
    const wrong = await scrape(bearer('not-the-token-0123456789abcdef'));
    expect(wrong.statusCode).toBe(401);
    const agentScrape = await scrape(agent.headers);
    expect(agentScrape.statusCode).toBe(403);
    expect(agentScrape.body).not.toContain('tessera_');
  });

  it('answers the scrape token and the admin key with the Prometheus text format', async () => {
    for (const headers of [bearer(TOKEN), bearer(ADMIN_KEY)]) {
      const res = await scrape(headers);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('text/plain');
      expect(res.body).toContain('# TYPE tessera_http_request_duration_seconds histogram');
      expect(res.body).toContain('nodejs_eventloop_lag_seconds');
    }
  });

  it('counts an HTTP request by route pattern and a command by type and outcome', async () => {
    const api = caseApi(t);
    const opened = await api.call(agent, 'POST', '/v1/cases', { template: 'billing-dispute', title: 'metrics case', customer: { id: 'cust-metrics' } });
    api.expectStatus(opened, 201);
    const id = opened.json().id as string;
    const refused = await api.call(agent, 'POST', `/v1/cases/${id}/events`, { type: 'NO_SUCH_EVENT' });
    expect(refused.statusCode).toBeGreaterThanOrEqual(400);
    expect(refused.statusCode).toBeLessThan(500);
    await api.call(agent, 'GET', `/v1/cases/${id}`);

    const text = (await scrape()).body;
    expect(sample(text, 'tessera_http_request_duration_seconds_count', { method: 'POST', route: '/v1/cases', status: '201' })).toBeGreaterThanOrEqual(1);
    // By pattern: the case id never becomes a label value.
    expect(sample(text, 'tessera_http_request_duration_seconds_count', { method: 'GET', route: '/v1/cases/:id', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(id);
    expect(sample(text, 'tessera_command_duration_seconds_count', { command: 'case.open', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'tessera_command_duration_seconds_count', { command: 'event.send', outcome: 'refused' }) ?? sample(text, 'tessera_command_duration_seconds_count', { outcome: 'refused' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'tessera_case_lock_wait_seconds_count', { path: 'command' })).toBeGreaterThanOrEqual(1);
    // Unknown paths share one series.
    await t.app.inject({ method: 'GET', url: '/v1/no/such/path/123' });
    const after = (await scrape()).body;
    expect(sample(after, 'tessera_http_request_duration_seconds_count', { route: '(unmatched)', status: '404' })).toBe(1);
    expect(after).not.toContain('/v1/no/such/path');
  });

  it('records a fired SLA warning as an at_risk point of its template, with its lateness', async () => {
    const api = caseApi(t);
    const opened = await api.call(agent, 'POST', '/v1/cases', { template: 'billing-dispute', title: 'sla case', customer: { id: 'cust-sla' } });
    const id = opened.json().id as string;
    const before = sample((await scrape()).body, 'tessera_sla_points_total', { template: 'billing-dispute', point: 'at_risk' }) ?? 0;
    const timers = await t.database.db.selectFrom('timers').selectAll().where('case_id', '=', id).where('kind', '=', 'goal_deadline').execute();
    const warning = timers.find((r) => (r.event as { type: string }).type === 'tessera.goal.warning');
    expect(warning).toBeDefined();
    // Fired as if it had been due two seconds ago: two seconds late.
    const dueAt = new Date(Date.now() - 2_000).toISOString();
    const [outcome] = await t.core.runner.fireTimers([{ timerId: warning!.id, caseId: id, dueAt }]);
    expect(outcome).toMatchObject({ outcome: 'applied' });
    const text = (await scrape()).body;
    expect(sample(text, 'tessera_sla_points_total', { template: 'billing-dispute', point: 'at_risk' })).toBe(before + 1);
    expect(sample(text, 'tessera_sla_points_total', { template: 'billing-dispute', point: 'breached' }) ?? 0).toBe(0);
    expect(sample(text, 'tessera_timer_lateness_seconds_bucket', { kind: 'goal_deadline', le: '1' })).toBe(0);
    expect(sample(text, 'tessera_timer_lateness_seconds_bucket', { kind: 'goal_deadline', le: '5' })).toBe(1);
  });

  it('reports the state gauges from Postgres and Redis: dead letters, inbox, jobs, pool', async () => {
    const text = (await scrape()).body;
    for (const name of ['tessera_webhook_dead_letters', 'tessera_webhook_oldest_pending_seconds', 'tessera_inbox_oldest_received_seconds', 'tessera_timers_pending', 'tessera_db_pool_in_use', 'tessera_db_pool_waiting']) {
      expect(sample(text, name), name).toBeGreaterThanOrEqual(0);
    }
    expect(sample(text, 'tessera_inbox_rows', { status: 'received' })).toBeGreaterThanOrEqual(0);
    for (const queue of ['tessera-timers', 'tessera-outbox', 'tessera-webhooks', 'tessera-inbox']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed']) expect(sample(text, 'tessera_jobs', { queue, state }), `${queue} ${state}`).toBeGreaterThanOrEqual(0);
    }
    // The snapshot is one bounded statement: it reads partial indexes, never the whole table.
    const plan = await sql<{ 'QUERY PLAN': string }>`explain select created_at from webhook_deliveries where status = 'pending' order by created_at limit 1`.execute(t.database.db);
    expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('webhook_deliveries_pending_age');
  });

  it('lets other parts register a gauge (live streams), read at scrape time', async () => {
    let streams = 3;
    t.core.metrics.gauge('tessera_live_streams', 'Open live streams', () => streams);
    expect(sample((await scrape()).body, 'tessera_live_streams')).toBe(3);
    streams = 1;
    expect(sample((await scrape()).body, 'tessera_live_streams')).toBe(1);
  });

  it('serves a worker process its own /metrics port with the same access rule', async () => {
    const server = await startMetricsServer(t.core.metrics, { metricsToken: TOKEN, adminKey: ADMIN_KEY }, '127.0.0.1', 0);
    try {
      const url = `http://127.0.0.1:${server.port}/metrics`;
      expect((await fetch(url)).status).toBe(401);
      const ok = await fetch(url, { headers: bearer(TOKEN) });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('tessera_command_duration_seconds');
      expect((await fetch(`http://127.0.0.1:${server.port}/other`, { headers: bearer(TOKEN) })).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
