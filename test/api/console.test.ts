/**
 * The supervisor console's routes on real Postgres and Redis: the SLA tiles follow the goals'
 * SLA points as they fire; bulk reassign answers each case on its own (a refused case changes
 * nothing and does not stop the others), journals the reason on every case, and an
 * Idempotency-Key retry reassigns nothing twice; reach alerts list a post crossing a template
 * threshold. Each test works in its own queue, so other files' goals never count.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows } from '../support/case-api.js';
import { startTestApp, uniqueId } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let rows: ReturnType<typeof caseRows>;
let supervisor: Actor;
let agent: Actor;

beforeAll(async () => {
  // A private BullMQ prefix: no worker fires this file's timers; the test does.
  t = await startTestApp({ prefixSuffix: `-${uniqueId('console')}` });
  api = caseApi(t);
  rows = caseRows(t);
  supervisor = await createActor(t.database.db, 'supervisor');
  agent = await createActor(t.database.db, 'agent');
});
afterAll(() => t.close());

async function fireWarning(caseId: string, goalKey: string) {
  const timer = (await rows.timers(caseId)).find((r) => r.goal_key === goalKey && r.status === 'pending' && (r.event as { type: string }).type === 'tessera.goal.warning');
  expect(timer).toBeDefined();
  const [fired] = await t.core.runner.fireTimers([{ timerId: timer!.id, caseId }]);
  expect(fired!.outcome).toBe('applied');
}

describe('GET /v1/goals/summary', () => {
  it('counts open goals by SLA state per queue and moves a goal to at risk when its warning fires', async () => {
    const queue = uniqueId('tiles');
    const c1 = await api.open(supervisor, { template: 'product-repair', title: 'Tiles 1', queue });
    await api.open(supervisor, { template: 'product-repair', title: 'Tiles 2', queue });
    const goals = (await api.get(supervisor, c1.id)).goals.filter((g) => g.deadline_at !== null);
    const read = async () => api.expectStatus(await api.call(supervisor, 'GET', `/v1/goals/summary?queue=${queue}`), 200).json();
    const before = await read();
    expect(before).toMatchObject({ on_track: 2 * goals.length, at_risk: 0, breached: 0, by_queue: { [queue]: { on_track: 2 * goals.length, at_risk: 0, breached: 0 } } });
    expect(Date.parse(before.next_breach_at)).toBe(Math.min(...goals.map((g) => Date.parse(g.deadline_at!))));

    const warned = (await rows.timers(c1.id)).find((r) => r.status === 'pending' && (r.event as { type: string }).type === 'tessera.goal.warning')!;
    await fireWarning(c1.id, warned.goal_key!);
    expect(await read()).toMatchObject({ on_track: 2 * goals.length - 1, at_risk: 1, breached: 0 });
  });

  it('is for supervisors: an agent gets 403, a bad filter 400 naming it', async () => {
    expect((await api.call(agent, 'GET', '/v1/goals/summary')).statusCode).toBe(403);
    const bad = await api.call(supervisor, 'GET', '/v1/goals/summary?colour=red');
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
  });
});

describe('POST /v1/cases/bulk-reassign', () => {
  it('reassigns each case with the reason journaled, answers an unknown case on its own, and replays an Idempotency-Key', async () => {
    const from = uniqueId('from');
    const to = uniqueId('to');
    const a = await api.open(supervisor, { template: 'product-repair', title: 'Bulk A', queue: from });
    const b = await api.open(supervisor, { template: 'product-repair', title: 'Bulk B', queue: from });
    const body = { case_ids: [a.id, 'no-such-case', b.id], queue: to, reason: 'Team on leave' };
    const headers = { 'idempotency-key': uniqueId('bulk') };
    const res = await api.call(supervisor, 'POST', '/v1/cases/bulk-reassign', body, headers);
    expect(res.statusCode, res.body).toBe(200);
    const answer = res.json();
    expect(answer).toMatchObject({ reassigned: 2, failed: 1 });
    expect(answer.items.map((i: { case_id: string; status: number }) => [i.case_id, i.status])).toEqual([[a.id, 200], ['no-such-case', 404], [b.id, 200]]);
    expect(answer.items[1].problem).toMatchObject({ status: 404, detail: 'No case has id no-such-case' });
    for (const c of [a, b]) {
      const after = await api.get(supervisor, c.id);
      expect(after.queue).toBe(to);
      const entry = (await rows.journal(c.id)).find((j) => j.type === 'case.reassigned');
      expect(entry).toMatchObject({ reason: 'Team on leave', actor_id: supervisor.userId });
    }
    const versions = await Promise.all([a, b].map((c) => rows.version(c.id)));
    const again = await api.call(supervisor, 'POST', '/v1/cases/bulk-reassign', body, headers);
    expect(again.json().items.map((i: { status: number }) => i.status)).toEqual([200, 404, 200]);
    expect(await Promise.all([a, b].map((c) => rows.version(c.id)))).toEqual(versions);
  });

  it('refuses a body without a reason or a destination with a 400 naming the field, changing nothing; agents get 403', async () => {
    const c = await api.open(supervisor, { template: 'product-repair', title: 'Bulk refused', queue: uniqueId('q') });
    const version = await rows.version(c.id);
    const noReason = await api.call(supervisor, 'POST', '/v1/cases/bulk-reassign', { case_ids: [c.id], queue: 'x' });
    expect(noReason.statusCode).toBe(400);
    expect(JSON.stringify(noReason.json().errors)).toContain('reason');
    const nowhere = await api.call(supervisor, 'POST', '/v1/cases/bulk-reassign', { case_ids: [c.id], reason: 'why' });
    expect(nowhere.statusCode).toBe(400);
    expect(nowhere.json().errors[0].pointer).toBe('/owner_id');
    const tooMany = await api.call(supervisor, 'POST', '/v1/cases/bulk-reassign', { case_ids: Array.from({ length: 101 }, (_, i) => `c${i}`), queue: 'x', reason: 'why' });
    expect(tooMany.statusCode).toBe(400);
    expect((await api.call(agent, 'POST', '/v1/cases/bulk-reassign', { case_ids: [c.id], queue: 'x', reason: 'why' })).statusCode).toBe(403);
    expect(await rows.version(c.id)).toBe(version);
  });
});

describe('GET /v1/alerts/reach', () => {
  it('lists a case whose post crossed a reach threshold, newest first', async () => {
    const queue = uniqueId('social');
    const c = await api.open(supervisor, { template: 'social-complaint', title: 'Viral complaint', queue });
    await api.addContent(supervisor, c.id, { kind: 'social_post', data: { channel: 'x', post_id: uniqueId('p'), text: 'This is terrible', reach: 60_000 } });
    const after = await api.get(supervisor, c.id);
    const res = await api.call(supervisor, 'GET', `/v1/alerts/reach?queue=${after.queue}`);
    expect(res.statusCode, res.body).toBe(200);
    const items = res.json().items.filter((i: { case_id: string }) => i.case_id === c.id);
    expect(items).toEqual([expect.objectContaining({ case_id: c.id, case_title: 'Viral complaint', metric: 'reach', value: 60_000, limit: 50_000, threshold: 'reach>=50000' })]);
    expect((await api.call(agent, 'GET', '/v1/alerts/reach')).statusCode).toBe(403);
  });
});
