/**
 * Request bodies are validated without type coercion: a wrong type is a 400 naming the field and
 * changes nothing (under Fastify's default, `null` became `false`/`0`/`""` and acted). Query
 * strings are still parsed to their declared types. A number JSON cannot hold is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, expectProblem, type CaseView } from '../support/case-api.js';
import { startTestApp } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let integrator: Actor;
let agent: Actor;
let supervisor: Actor;

beforeAll(async () => {
  t = await startTestApp({ config: { TESSERA_WEBHOOK_ALLOWLIST: '127.0.0.1' } });
  integrator = await createActor(t.database.db, 'integrator');
  agent = await createActor(t.database.db, 'agent');
  supervisor = await createActor(t.database.db, 'supervisor');
});
afterAll(() => t.close());

const send = (actor: Actor, method: 'POST' | 'PATCH', url: string, payload: string) =>
  t.app.inject({ method, url, headers: { ...actor.headers, 'content-type': 'application/json' }, payload });

/** The 400 names exactly this field (and nothing from other branches). */
function expectFieldRefused(res: Awaited<ReturnType<typeof send>>, pointer: string) {
  const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
  expect(problem.errors.map((e: { pointer: string }) => e.pointer)).toEqual([pointer]);
  return problem;
}

async function subscription() {
  const res = await send(integrator, 'POST', '/v1/webhook-subscriptions', JSON.stringify({ url: 'http://127.0.0.1:9/hook', event_types: ['case.opened'] }));
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; secret: string };
}

const subscriptionRow = (id: string) => t.database.db.selectFrom('webhook_subscriptions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

describe('webhook subscriptions', () => {
  it('{"enabled": null} is a 400 naming /enabled, and the subscription stays enabled', async () => {
    const sub = await subscription();
    const before = await subscriptionRow(sub.id);
    const problem = expectFieldRefused(await send(integrator, 'PATCH', `/v1/webhook-subscriptions/${sub.id}`, '{"enabled": null}'), '/enabled');
    expect(problem.errors[0].detail).toBe('must be boolean');
    expect(await subscriptionRow(sub.id)).toEqual(before);
    expect(before.enabled).toBe(true);
  });

  it('{"expire_previous_in_seconds": null} is a 400, and the previous secret stays valid', async () => {
    const sub = await subscription();
    const rotated = await send(integrator, 'POST', `/v1/webhook-subscriptions/${sub.id}/rotate-secret`, '{}');
    expect(rotated.statusCode).toBe(200);
    const before = await subscriptionRow(sub.id);
    expect(before.previous_secret_sealed).not.toBeNull();
    expect(t.secrets.open(before.previous_secret_sealed!)).toBe(sub.secret);

    expectFieldRefused(await send(integrator, 'POST', `/v1/webhook-subscriptions/${sub.id}/rotate-secret`, '{"expire_previous_in_seconds": null}'), '/expire_previous_in_seconds');
    expect(await subscriptionRow(sub.id)).toEqual(before);
  });

  it('a number, an array or null where a string belongs is refused, not turned into text', async () => {
    const sub = await subscription();
    const before = await subscriptionRow(sub.id);
    expectFieldRefused(await send(integrator, 'PATCH', `/v1/webhook-subscriptions/${sub.id}`, '{"description": 42}'), '/description');
    expectFieldRefused(await send(integrator, 'PATCH', `/v1/webhook-subscriptions/${sub.id}`, '{"description": ["x"]}'), '/description');
    expectFieldRefused(await send(integrator, 'PATCH', `/v1/webhook-subscriptions/${sub.id}`, '{"url": ["http://127.0.0.1:9/other"]}'), '/url');
    expectFieldRefused(await send(integrator, 'PATCH', `/v1/webhook-subscriptions/${sub.id}`, '{"event_types": "case.opened"}'), '/event_types');
    expect(await subscriptionRow(sub.id)).toEqual(before);
  });

  it('null clears a description, as documented (the one explicit clearing value)', async () => {
    const sub = await subscription();
    await send(integrator, 'PATCH', `/v1/webhook-subscriptions/${sub.id}`, '{"description": "CRM"}');
    const res = await send(integrator, 'PATCH', `/v1/webhook-subscriptions/${sub.id}`, '{"description": null}');
    expect(res.statusCode).toBe(200);
    expect(res.json().description).toBeNull();
  });
});

describe('goal deadlines', () => {
  let c: CaseView;
  const goalKey = 'customer_notified';

  beforeAll(async () => {
    c = await caseApi(t).open(agent, { template: 'billing-dispute', title: 'No coercion', case_file: { account: { id: 'acc-nc' } } });
  });

  it('{"deadline_at": ""} is a 400 naming /deadline_at; the deadline and its SLA timers are unchanged', async () => {
    const rows = caseRows(t);
    const before = await rows.snapshot(c.id);
    const timersBefore = await rows.timers(c.id);
    expect(timersBefore.filter((x) => x.goal_key === goalKey && x.status === 'pending').length).toBeGreaterThan(0);
    const deadline = (await caseApi(t).get(agent, c.id)).goals.find((g) => g.key === goalKey)!.deadline_at;
    expect(deadline).not.toBeNull();

    const problem = expectFieldRefused(await send(supervisor, 'PATCH', `/v1/cases/${c.id}/goals/${goalKey}`, '{"deadline_at": "", "reason": "x"}'), '/deadline_at');
    expect(problem.errors[0].detail).toMatch(/date-time/);
    expectFieldRefused(await send(supervisor, 'PATCH', `/v1/cases/${c.id}/goals/${goalKey}`, '{"deadline_at": 0, "reason": "x"}'), '/deadline_at');

    expect(await rows.snapshot(c.id)).toEqual(before);
    expect(await rows.timers(c.id)).toEqual(timersBefore);
    expect((await caseApi(t).get(agent, c.id)).goals.find((g) => g.key === goalKey)!.deadline_at).toBe(deadline);
  });

  it('a number as the reason, or a boolean given as a string, is refused', async () => {
    const rows = caseRows(t);
    const before = await rows.snapshot(c.id);
    expectFieldRefused(await send(supervisor, 'PATCH', `/v1/cases/${c.id}/goals/${goalKey}`, '{"title": "T", "reason": 12345}'), '/reason');
    expectFieldRefused(
      await send(supervisor, 'POST', `/v1/cases/${c.id}/goals`, '{"key": "g1", "title": "G", "condition": "true", "required": "true"}'),
      '/required',
    );
    expect(await rows.snapshot(c.id)).toEqual(before);
  });
});

describe('numbers JSON cannot hold', () => {
  it.each(['1e309', '-1e309'])('%s anywhere in a body is a 400 naming its pointer, not stored as null', async (n) => {
    const c = await caseApi(t).open(agent, { template: 'billing-dispute', title: `Overflow ${n}`, case_file: { account: { id: 'acc-o' } } });
    const rows = caseRows(t);
    const before = await rows.snapshot(c.id);
    const res = await send(agent, 'POST', `/v1/cases/${c.id}/content`, `{"kind": "note", "data": {"text": "t", "extra": {"nested": [1, {"score": ${n}}]}}}`);
    const problem = expectFieldRefused(res, '/data/extra/nested/1/score');
    expect(problem.errors[0]).toMatchObject({ in: 'body', detail: expect.stringMatching(/finite/) });
    expect(await rows.snapshot(c.id)).toEqual(before);
  });
});

describe('query strings', () => {
  it('are still parsed to their declared types', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/cases?limit=1', headers: agent.headers });
    expect(res.statusCode).toBe(200);
    expect(res.json().items.length).toBeLessThanOrEqual(1);
    const bad = await t.app.inject({ method: 'GET', url: '/v1/cases?limit=many', headers: agent.headers });
    expect(expectProblem(bad, 400, 'VALIDATION_FAILED').errors).toEqual([expect.objectContaining({ pointer: '/limit', in: 'querystring' })]);
  });
});
