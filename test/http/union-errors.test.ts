/**
 * Bodies that are one of several shapes are validated against the shape asked for: the errors
 * name only what is wrong for that shape (a jump without a reason says `/reason is required`,
 * not the migrate branch's `/to is required`), and an unknown action is one error naming /action
 * with the allowed values. Every refusal leaves the case as it was.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, expectProblem, fragmentOf, type CaseView } from '../support/case-api.js';
import { startTestApp } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let agent: Actor;
let c: CaseView;
let before: unknown;

beforeAll(async () => {
  t = await startTestApp();
  agent = await createActor(t.database.db, 'agent');
});
afterAll(() => t.close());

beforeEach(async () => {
  c = await caseApi(t).open(agent, { template: 'billing-dispute', title: 'Union errors', case_file: { account: { id: 'acc-u' } } });
  before = await caseRows(t).snapshot(c.id);
});

const post = (url: string, body: unknown) =>
  t.app.inject({ method: 'POST', url, headers: { ...agent.headers, 'content-type': 'application/json' }, payload: JSON.stringify(body) });

/** A 400 whose errors are exactly these (pointer, detail pattern); the case is untouched. */
async function expectErrors(res: Awaited<ReturnType<typeof post>>, expected: [string, RegExp][]) {
  const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
  expect(problem.errors.map((e: { pointer: string }) => e.pointer)).toEqual(expected.map(([p]) => p));
  expected.forEach(([, detail], i) => expect(problem.errors[i].detail).toMatch(detail));
  expect(problem.detail).toContain(expected[0]![0]);
  expect(await caseRows(t).snapshot(c.id)).toEqual(before);
  return problem;
}

describe('POST /v1/cases/:id/fragments/:fid/adapt', () => {
  const adapt = (body: unknown) => post(`/v1/cases/${c.id}/fragments/${fragmentOf(c, 'verify-identity').id}/adapt`, body);

  it('a jump without a reason names only /reason', async () => {
    await expectErrors(await adapt({ action: 'jump', state: 'verified' }), [['/reason', /is required/]]);
  });

  it('a field of another action is refused as unknown for this one', async () => {
    await expectErrors(await adapt({ action: 'jump', state: 'verified', reason: 'r', to: 'verify-identity@1' }), [['/to', /not a known field/]]);
  });

  it('a migrate names its own missing fields', async () => {
    await expectErrors(await adapt({ action: 'migrate' }), [
      ['/to', /is required/],
      ['/reason', /is required/],
    ]);
  });

  it('a reassign with a bad assignment names the assignment', async () => {
    await expectErrors(await adapt({ action: 'reassign', assignment: { team: 'x' } }), [['/assignment/team', /not a known field/]]);
  });

  it('an unknown action is one error at /action listing the actions', async () => {
    await expectErrors(await adapt({ action: 'teleport', reason: 'r' }), [['/action', /must be one of "migrate", "jump", "cancel", "reassign"/]]);
  });

  it('a missing action is one error at /action listing the actions', async () => {
    await expectErrors(await adapt({ reason: 'r' }), [['/action', /is required: one of "migrate", "jump", "cancel", "reassign"/]]);
  });

  it('a valid action still works', async () => {
    const res = await adapt({ action: 'cancel', reason: 'not needed' });
    expect(res.statusCode, res.body).toBe(200);
  });
});

describe('other bodies with unions', () => {
  it('a nullable field with a wrong type names it once ("or null"), without anyOf noise', async () => {
    const supervisor = await createActor(t.database.db, 'supervisor');
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/v1/cases/${c.id}/goals/customer_notified`,
      headers: { ...supervisor.headers, 'content-type': 'application/json' },
      payload: JSON.stringify({ deadline_at: 5, reason: 'r' }),
    });
    await expectErrors(res, [['/deadline_at', /^must be string or null$/]]);
  });

  it('an optional body (close) with a bad field names the field, not "must be null"', async () => {
    await expectErrors(await post(`/v1/cases/${c.id}/close`, { status: 'deleted' }), [['/status', /must be one of "closed", "cancelled"/]]);
  });

  it('fragments: a checklist without steps names /checklist/steps only', async () => {
    await expectErrors(await post(`/v1/cases/${c.id}/fragments`, { checklist: { title: 'T' } }), [['/checklist/steps', /is required/]]);
  });
});
