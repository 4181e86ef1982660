/** Hold and resume over HTTP: the goal clocks stop while a case waits on the customer. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { startTestApp } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let agent: Actor;
let other: Actor;
beforeAll(async () => {
  t = await startTestApp();
  agent = await createActor(t.database.db, 'agent');
  other = await createActor(t.database.db, 'agent');
});
afterAll(() => t.close());

const post = (actor: Actor, url: string, payload: Record<string, unknown>) =>
  t.app.inject({ method: 'POST', url, headers: actor.headers, payload });

async function open(template: string) {
  const res = await post(agent, '/v1/cases', { template, title: `hold ${template}` });
  expect(res.statusCode).toBe(201);
  return res.json();
}

async function pendingTimers(caseId: string) {
  return t.database.db.selectFrom('timers').select(['id', 'due_at', 'kind']).where('case_id', '=', caseId).where('status', '=', 'pending').where('kind', '=', 'goal_deadline').execute();
}

describe('hold and resume', () => {
  it('stops goal clocks on hold, refuses work while held, and moves deadlines by the held time on resume', async () => {
    const c = await open('billing-dispute');
    const deadlineBefore = c.goals.find((g: { key: string }) => g.key === 'decision_made').deadline_at as string;
    expect((await pendingTimers(c.id)).length).toBeGreaterThan(0);

    const held = await post(agent, `/v1/cases/${c.id}/hold`, { reason: 'waiting for the customer to send the invoice' });
    expect(held.statusCode).toBe(200);
    expect(held.json()).toMatchObject({ status: 'on_hold', hold_reason: 'waiting for the customer to send the invoice', version: c.version + 1 });
    expect(await pendingTimers(c.id)).toEqual([]);

    const refused = await post(agent, `/v1/cases/${c.id}/events`, { type: 'BILLING_RECORDS_RECEIVED' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('CASE_NOT_OPEN');

    await new Promise((r) => setTimeout(r, 50));
    const resumed = await post(agent, `/v1/cases/${c.id}/resume`, { reason: 'invoice received' });
    expect(resumed.statusCode).toBe(200);
    const body = resumed.json();
    expect(body).toMatchObject({ status: 'open', held_at: null, version: c.version + 2 });
    const deadlineAfter = body.goals.find((g: { key: string }) => g.key === 'decision_made').deadline_at as string;
    expect(Date.parse(deadlineAfter) - Date.parse(deadlineBefore)).toBeGreaterThanOrEqual(50);
    expect((await pendingTimers(c.id)).length).toBeGreaterThan(0);

    const timeline = await t.app.inject({ method: 'GET', url: `/v1/cases/${c.id}/timeline?limit=100`, headers: agent.headers });
    const types = timeline.json().items.map((e: { type: string }) => e.type);
    expect(types).toEqual(expect.arrayContaining(['case.held', 'case.resumed']));
  });

  it('refuses a hold the template does not allow, changing nothing', async () => {
    const c = await open('social-complaint');
    const res = await post(agent, `/v1/cases/${c.id}/hold`, { reason: 'customer on holiday' });
    expect(res.statusCode).toBe(422);
    expect(res.json().code).toBe('HOLD_NOT_ALLOWED');
    const after = await t.app.inject({ method: 'GET', url: `/v1/cases/${c.id}`, headers: agent.headers });
    expect(after.json()).toMatchObject({ status: 'open', version: c.version });
  });

  it("needs a reason, and hides another agent's case", async () => {
    const c = await open('billing-dispute');
    expect((await post(agent, `/v1/cases/${c.id}/hold`, {})).json().code).toBe('VALIDATION_FAILED');
    expect((await post(other, `/v1/cases/${c.id}/hold`, { reason: 'x' })).statusCode).toBe(404);
  });
});
