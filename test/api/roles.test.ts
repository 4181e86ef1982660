/**
 * Who may do what on the case API. Agents work cases they own or hold a task on (another
 * agent's case answers 404, so ids do not leak), supervisors and admins everything,
 * integrators only send events and content. Jump and cancel need the owner or a supervisor.
 * Every refusal writes nothing.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, expectProblem, fragmentOf, taskOf, type CaseView } from '../support/case-api.js';
import { startTestApp } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let rows: ReturnType<typeof caseRows>;
let owner: Actor;
let other: Actor;
let helper: Actor;
let supervisor: Actor;
let integrator: Actor;
let admin: Actor;
let c: CaseView;
let before: Awaited<ReturnType<ReturnType<typeof caseRows>['snapshot']>>;

beforeAll(async () => {
  t = await startTestApp();
  api = caseApi(t);
  rows = caseRows(t);
  owner = await createActor(t.database.db, 'agent');
  other = await createActor(t.database.db, 'agent');
  helper = await createActor(t.database.db, 'agent');
  supervisor = await createActor(t.database.db, 'supervisor');
  integrator = await createActor(t.database.db, 'integrator');
  admin = await createActor(t.database.db, 'admin');
});
afterAll(() => t.close());

beforeEach(async () => {
  c = await api.open(owner, { template: 'billing-dispute', title: 'Roles', case_file: { account: { id: 'acc-r' } } });
  before = await rows.snapshot(c.id);
});

async function expectRefused(res: LightMyRequestResponse, status: number, code: string) {
  const problem = expectProblem(res, status, code);
  expect(await rows.snapshot(c.id)).toEqual(before);
  return problem;
}

const records = { type: 'BILLING_RECORDS_RECEIVED', data: { records: [] } };
const note = { kind: 'note', data: { text: 'called the customer' } };

describe('agents', () => {
  it('work the cases they own', async () => {
    api.expectStatus(await api.call(owner, 'GET', `/v1/cases/${c.id}`), 200);
    api.expectStatus(await api.call(owner, 'GET', `/v1/cases/${c.id}/timeline`), 200);
    api.expectStatus(await api.call(owner, 'POST', `/v1/cases/${c.id}/events`, records), 200);
    api.expectStatus(await api.call(owner, 'POST', `/v1/cases/${c.id}/content`, note), 201);
  });

  it("another agent's case answers 404, never 403, for reads and writes", async () => {
    for (const [method, url, body] of [
      ['GET', `/v1/cases/${c.id}`, undefined],
      ['GET', `/v1/cases/${c.id}/timeline`, undefined],
      ['GET', `/v1/cases/${c.id}/content`, undefined],
      ['POST', `/v1/cases/${c.id}/events`, records],
      ['POST', `/v1/cases/${c.id}/content`, note],
      ['POST', `/v1/cases/${c.id}/fragments`, { ref: 'credit-note@1' }],
      ['POST', `/v1/cases/${c.id}/goals`, { key: 'g', title: 'G', condition: 'true' }],
      ['POST', `/v1/cases/${c.id}/reassign`, { owner_id: other.userId }],
      ['POST', `/v1/cases/${c.id}/close`, { reason: 'mine now' }],
      ['POST', `/v1/cases/${c.id}/fragments/${c.fragments[0]!.id}/adapt`, { action: 'cancel', reason: 'x' }],
    ] as const) {
      await expectRefused(await api.call(other, method, url, body), 404, 'CASE_NOT_FOUND');
    }
    const list = api.expectStatus(await api.call(other, 'GET', '/v1/cases?limit=100'), 200).json();
    expect(list.items.map((x: { id: string }) => x.id)).not.toContain(c.id);
  });

  it('an agent who is assigned a task sees the case and works the task, but may not jump or cancel', async () => {
    const verify = fragmentOf(c, 'verify-identity');
    const task = taskOf(c, verify.id, 'verifying');
    await api.reassignTask(supervisor, task.id, { assignment: { user_id: helper.userId } });
    api.expectStatus(await api.call(helper, 'GET', `/v1/cases/${c.id}`), 200);
    const list = api.expectStatus(await api.call(helper, 'GET', '/v1/cases?limit=100'), 200).json();
    expect(list.items.map((x: { id: string }) => x.id)).toContain(c.id);

    before = await rows.snapshot(c.id);
    const adapt = `/v1/cases/${c.id}/fragments/${verify.id}/adapt`;
    await expectRefused(await api.call(helper, 'POST', adapt, { action: 'jump', state: 'failed', reason: 'x' }), 403, 'FORBIDDEN');
    await expectRefused(await api.call(helper, 'POST', adapt, { action: 'cancel', reason: 'x' }), 403, 'FORBIDDEN');
    await expectRefused(await api.call(helper, 'POST', `/v1/cases/${c.id}/reassign`, { owner_id: helper.userId }), 403, 'FORBIDDEN');
    // A task on a case they may not see does not exist for them.
    await expectRefused(await api.call(other, 'POST', `/v1/tasks/${task.id}/complete`, { output: { method: 'id_document', passed: true } }), 404, 'TASK_NOT_FOUND');

    await api.complete(helper, task.id, { method: 'id_document', passed: true });
    expect((await api.get(supervisor, c.id)).milestones).toHaveProperty('identity_verified');
  });

  it('once their task is done the case is out of reach again, in the list as well as by id', async () => {
    const task = taskOf(c, fragmentOf(c, 'verify-identity').id, 'verifying');
    await api.reassignTask(supervisor, task.id, { assignment: { user_id: helper.userId } });
    await api.complete(helper, task.id, { method: 'id_document', passed: true });
    api.expectStatus(await api.call(helper, 'GET', `/v1/cases/${c.id}`), 404);
    const list = api.expectStatus(await api.call(helper, 'GET', '/v1/cases?limit=100'), 200).json();
    expect(list.items.map((x: { id: string }) => x.id)).not.toContain(c.id);
  });

  it('an agent given a whole fragment sees the case by id and in the list', async () => {
    // investigate-charge waits for the billing records: no task moves with it.
    const investigate = fragmentOf(c, 'investigate-charge');
    const res = await api.adapt(supervisor, c.id, investigate.id, { action: 'reassign', assignment: { user_id: helper.userId }, reason: 'Helper investigates' });
    expect(res.tasks.filter((x: { assignee_id: string | null }) => x.assignee_id === helper.userId)).toEqual([]);
    api.expectStatus(await api.call(helper, 'GET', `/v1/cases/${c.id}`), 200);
    const list = api.expectStatus(await api.call(helper, 'GET', '/v1/cases?limit=100'), 200).json();
    expect(list.items.map((x: { id: string }) => x.id)).toContain(c.id);
  });

  it('the owner may jump and cancel a fragment (reason journaled)', async () => {
    const verify = fragmentOf(c, 'verify-identity');
    const res = await api.adapt(owner, c.id, verify.id, { action: 'jump', state: 'failed', reason: 'Customer failed the check on the phone' });
    expect(fragmentOf(res, 'verify-identity').states).toEqual(['failed']);
    expect(taskOf(res, verify.id, 'failed').role).toBe('supervisor');
    const cancelled = await api.adapt(owner, c.id, verify.id, { action: 'cancel', reason: 'Verified in the shop instead' });
    expect(fragmentOf(cancelled, 'verify-identity').status).toBe('cancelled');
    expect(cancelled.tasks.filter((x: { fragment_id: string }) => x.fragment_id === verify.id)).toEqual([]);
    const journal = await api.timeline(owner, c.id);
    expect(journal.filter((e) => e.type === 'fragment.jumped' || e.type === 'fragment.cancelled').map((e) => [e.type, e.actor.id, e.reason])).toEqual([
      ['fragment.jumped', owner.userId, 'Customer failed the check on the phone'],
      ['fragment.cancelled', owner.userId, 'Verified in the shop instead'],
    ]);
    expect(await rows.outboxTypes(c.id)).toContain('fragment.cancelled');
  });

  it('agents may not move deadlines, reassign tasks or open cases for someone else', async () => {
    await expectRefused(await api.call(owner, 'PATCH', `/v1/cases/${c.id}/goals/decision_made`, { deadline_at: new Date().toISOString(), reason: 'x' }), 403, 'FORBIDDEN');
    await expectRefused(await api.call(owner, 'POST', `/v1/tasks/${c.tasks[0]!.id}/reassign`, { assignment: { user_id: other.userId } }), 403, 'FORBIDDEN');
    const title = `For Sam ${c.id}`;
    await expectRefused(await api.call(owner, 'POST', '/v1/cases', { template: 'billing-dispute', title, owner_id: other.userId }), 403, 'FORBIDDEN');
    expect(await t.database.db.selectFrom('cases').select('id').where('title', '=', title).execute()).toEqual([]);
  });
});

describe('supervisors', () => {
  it('see and change every case: jump, cancel, deadlines, reassign, close', async () => {
    api.expectStatus(await api.call(supervisor, 'GET', `/v1/cases/${c.id}`), 200);
    const investigate = fragmentOf(c, 'investigate-charge');
    await api.adapt(supervisor, c.id, investigate.id, { action: 'jump', state: 'investigating', reason: 'Records came by email' });
    const timers = await rows.timers(c.id);
    expect(timers.filter((x) => x.fragment_id === investigate.id).map((x) => x.status)).toEqual(['cancelled']);
    await api.adapt(supervisor, c.id, investigate.id, { action: 'cancel', reason: 'Handled by the fraud team' });
    await api.patchGoal(supervisor, c.id, 'decision_made', { deadline_at: null, reason: 'Fraud team owns the deadline' });
    await api.reassign(supervisor, c.id, { owner_id: other.userId, reason: 'Rebalance' });
    const closed = await api.close(supervisor, c.id, { reason: 'Handed to the fraud team', status: 'cancelled' });
    expect(closed).toMatchObject({ status: 'cancelled', close_reason: 'Handed to the fraud team', owner_id: other.userId });
    expect((await rows.timers(c.id)).filter((x) => x.status === 'pending')).toEqual([]);
  });

  it('closing with required goals unmet needs a reason (422), and writes nothing without one', async () => {
    await expectRefused(await api.call(supervisor, 'POST', `/v1/cases/${c.id}/close`, {}), 422, 'UNMET_REQUIRED_GOALS');
  });
});

describe('integrators', () => {
  it('send events and content to any case', async () => {
    api.expectStatus(await api.call(integrator, 'POST', `/v1/cases/${c.id}/events`, records), 200);
    api.expectStatus(await api.call(integrator, 'POST', `/v1/cases/${c.id}/content`, { kind: 'crm_profile', data: { lifetime_value: 1200 } }), 201);
    const journal = await api.timeline(supervisor, c.id);
    expect(journal.slice(-2).map((e) => e.actor)).toEqual([
      expect.objectContaining({ id: integrator.userId, role: 'integrator' }),
      { id: integrator.userId, role: 'integrator' },
    ]);
  });

  it('may not read cases (403) or do anything else', async () => {
    const task = c.tasks[0]!;
    for (const [method, url, body] of [
      ['GET', `/v1/cases/${c.id}`, undefined],
      ['GET', '/v1/cases', undefined],
      ['GET', `/v1/cases/${c.id}/timeline`, undefined],
      ['GET', `/v1/cases/${c.id}/content`, undefined],
      ['GET', '/v1/tasks', undefined],
      ['POST', '/v1/cases', { template: 'billing-dispute', title: 'x' }],
      ['POST', `/v1/cases/${c.id}/fragments`, { ref: 'credit-note@1' }],
      ['POST', `/v1/cases/${c.id}/fragments/${c.fragments[0]!.id}/adapt`, { action: 'cancel', reason: 'x' }],
      ['POST', `/v1/cases/${c.id}/goals`, { key: 'g', title: 'G', condition: 'true' }],
      ['POST', `/v1/cases/${c.id}/reassign`, { queue: 'x' }],
      ['POST', `/v1/cases/${c.id}/close`, { reason: 'x' }],
      ['POST', `/v1/tasks/${task.id}/complete`, { output: {} }],
      ['POST', `/v1/tasks/${task.id}/claim`, undefined],
    ] as const) {
      await expectRefused(await api.call(integrator, method, url, body), 403, 'FORBIDDEN');
    }
  });
});

describe('admins and anonymous callers', () => {
  it('admins do everything', async () => {
    api.expectStatus(await api.call(admin, 'GET', `/v1/cases/${c.id}`), 200);
    const verify = fragmentOf(c, 'verify-identity');
    await api.adapt(admin, c.id, verify.id, { action: 'jump', state: 'verified', reason: 'Verified out of band' });
    await api.patchGoal(admin, c.id, 'customer_notified', { title: 'Customer told', reason: 'Wording' });
    const closed = await api.close(admin, c.id, { reason: 'Test case' });
    expect(closed.status).toBe('closed');
    expect(closed.milestones).toHaveProperty('identity_verified');
  });

  it('no API key: 401 UNAUTHENTICATED', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/v1/cases/${c.id}/events`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(records) });
    await expectRefused(res, 401, 'UNAUTHENTICATED');
  });
});
