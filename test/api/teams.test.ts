/**
 * Teams: an agent works the queues of their teams. They see a case queued to one of their teams,
 * or one with an open task queued there — by id, in GET /v1/cases and in GET /v1/tasks alike —
 * and an agent of another team gets 404 for the case and its tasks, reads and writes, with
 * nothing written.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, expectProblem, fragmentOf, taskOf, type CaseView } from '../support/case-api.js';
import { ADMIN_KEY, bearer, startTestApp, uniqueId } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let rows: ReturnType<typeof caseRows>;
let supervisor: Actor;
let billing: Actor;
let social: Actor;
// Team names of this file only: other test files write to the same database.
const BILLING = uniqueId('billing');
const SOCIAL = uniqueId('social');

beforeAll(async () => {
  t = await startTestApp();
  api = caseApi(t);
  rows = caseRows(t);
  supervisor = await createActor(t.database.db, 'supervisor');
  billing = await createActor(t.database.db, 'agent', undefined, [BILLING]);
  social = await createActor(t.database.db, 'agent', undefined, [SOCIAL]);
});
afterAll(() => t.close());

const ids = (res: LightMyRequestResponse) => (res.json().items as { id: string }[]).map((x) => x.id);

/** A billing dispute queued to `queue`, owned by nobody: only the queue lets an agent in. */
async function queuedCase(queue: string): Promise<CaseView> {
  return api.open(supervisor, { template: 'billing-dispute', title: `Queued to ${queue}`, queue, case_file: { account: { id: 'acc-t' } } });
}

describe('a case queued to a team', () => {
  it('is seen by an agent of that team, by id and in the list', async () => {
    const c = await queuedCase(BILLING);
    expect(api.expectStatus(await api.call(billing, 'GET', `/v1/cases/${c.id}`), 200).json().id).toBe(c.id);
    expect(ids(api.expectStatus(await api.call(billing, 'GET', `/v1/cases?queue=${BILLING}`), 200))).toEqual([c.id]);
    expect(ids(api.expectStatus(await api.call(billing, 'GET', '/v1/cases?limit=100'), 200))).toContain(c.id);
    // Working it is a write like any other: the team agent may add a note.
    api.expectStatus(await api.call(billing, 'POST', `/v1/cases/${c.id}/content`, { kind: 'note', data: { text: 'on it' } }), 201);
  });

  it('answers 404 to an agent of another team, for reads and writes, and writes nothing', async () => {
    const c = await queuedCase(BILLING);
    const before = await rows.snapshot(c.id);
    for (const [method, url, body] of [
      ['GET', `/v1/cases/${c.id}`, undefined],
      ['GET', `/v1/cases/${c.id}/timeline`, undefined],
      ['GET', `/v1/cases/${c.id}/content`, undefined],
      ['POST', `/v1/cases/${c.id}/events`, { type: 'BILLING_RECORDS_RECEIVED', data: { records: [] } }],
      ['POST', `/v1/cases/${c.id}/content`, { kind: 'note', data: { text: 'mine now' } }],
      ['POST', `/v1/cases/${c.id}/goals`, { key: 'g', title: 'G', condition: 'true' }],
      ['POST', `/v1/cases/${c.id}/close`, { reason: 'x' }],
    ] as const) {
      expectProblem(await api.call(social, method, url, body), 404, 'CASE_NOT_FOUND');
    }
    const task = c.tasks[0]!;
    expectProblem(await api.call(social, 'POST', `/v1/tasks/${task.id}/claim`), 404, 'TASK_NOT_FOUND');
    expectProblem(await api.call(social, 'POST', `/v1/tasks/${task.id}/complete`, { output: {} }), 404, 'TASK_NOT_FOUND');
    expect(await rows.snapshot(c.id)).toEqual(before);
    expect(ids(api.expectStatus(await api.call(social, 'GET', `/v1/cases?queue=${BILLING}`), 200))).toEqual([]);
    expect(ids(api.expectStatus(await api.call(social, 'GET', `/v1/tasks?case_id=${c.id}`), 200))).toEqual([]);
  });
});

describe('a case with an open task queued to a team', () => {
  it('is seen by that team while the task is open; the team claims it; another team sees neither', async () => {
    // The case's own queue is nobody's team; only the task brings the social team in.
    let c = await queuedCase(uniqueId('elsewhere'));
    const task = taskOf(c, fragmentOf(c, 'verify-identity').id, 'verifying');
    await api.reassignTask(supervisor, task.id, { assignment: { queue: SOCIAL }, reason: 'Social desk verifies' });

    api.expectStatus(await api.call(social, 'GET', `/v1/cases/${c.id}`), 200);
    expect(ids(api.expectStatus(await api.call(social, 'GET', '/v1/cases?limit=100'), 200))).toContain(c.id);
    // The worklist without filters: their own tasks and their teams' queues.
    expect(ids(api.expectStatus(await api.call(social, 'GET', '/v1/tasks?limit=100'), 200))).toContain(task.id);
    expect(ids(api.expectStatus(await api.call(social, 'GET', `/v1/tasks?queue=${SOCIAL}`), 200))).toEqual([task.id]);

    expectProblem(await api.call(billing, 'GET', `/v1/cases/${c.id}`), 404, 'CASE_NOT_FOUND');
    expect(ids(api.expectStatus(await api.call(billing, 'GET', `/v1/tasks?queue=${SOCIAL}`), 200))).toEqual([]);
    expect(ids(api.expectStatus(await api.call(billing, 'GET', '/v1/cases?limit=100'), 200))).not.toContain(c.id);

    const claimed = api.expectStatus(await api.call(social, 'POST', `/v1/tasks/${task.id}/claim`), 200).json();
    expect(claimed.task).toMatchObject({ claimed_by: social.userId, assignee_id: social.userId });
    await api.complete(social, task.id, { method: 'id_document', passed: true });
    c = await api.get(supervisor, c.id);
    expect(c.milestones).toHaveProperty('identity_verified');
    // The task is done and the case is not theirs: out of reach again, by id and in the list.
    expectProblem(await api.call(social, 'GET', `/v1/cases/${c.id}`), 404, 'CASE_NOT_FOUND');
    expect(ids(api.expectStatus(await api.call(social, 'GET', '/v1/cases?limit=100'), 200))).not.toContain(c.id);
  });

  it("a team agent who sees the case may not take a task queued to another team (403), and nothing changes", async () => {
    const c = await queuedCase(BILLING);
    const task = taskOf(c, fragmentOf(c, 'verify-identity').id, 'verifying');
    await api.reassignTask(supervisor, task.id, { assignment: { queue: SOCIAL } });
    const before = await rows.snapshot(c.id);
    expectProblem(await api.call(billing, 'POST', `/v1/tasks/${task.id}/claim`), 403, 'FORBIDDEN');
    expect(await rows.snapshot(c.id)).toEqual(before);
  });
});

describe('keys with teams', () => {
  it('POST /v1/api-keys stores teams; /v1/me shows them', async () => {
    const userId = uniqueId('agent');
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: bearer(ADMIN_KEY),
      payload: { role: 'agent', user_id: userId, name: 'desk', teams: [BILLING, SOCIAL] },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ role: 'agent', user_id: userId, teams: [BILLING, SOCIAL] });
    const me = await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(created.json().key) });
    expect(me.json()).toMatchObject({ user_id: userId, teams: [BILLING, SOCIAL] });
    const row = await t.database.db.selectFrom('api_keys').select('teams').where('user_id', '=', userId).executeTakeFirstOrThrow();
    expect(row.teams).toEqual([BILLING, SOCIAL]);
  });

  it('refuses a team that is not a queue id, naming it, and creates no key', async () => {
    const userId = uniqueId('agent');
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: bearer(ADMIN_KEY),
      payload: { role: 'agent', user_id: userId, name: 'desk', teams: ['two words'] },
    });
    const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
    expect(problem.errors).toContainEqual(expect.objectContaining({ pointer: '/teams/0', in: 'body' }));
    expect(await t.database.db.selectFrom('api_keys').select('id').where('user_id', '=', userId).execute()).toEqual([]);
  });
});
