/**
 * Template vs actual: a case that ran as its template says has fitness 1 and no deviations; one
 * that was improvised shows each departure (insertion, jump, the event the template's machine
 * would not have taken, migration, a default fragment cancelled and one unfinished, goals missed)
 * with the token counts its fitness comes from; the report aggregates a period of a template.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, expectProblem, fragmentOf, taskOf, type CaseView } from '../support/case-api.js';
import { startTestApp } from '../support/platform.js';

// A period of its own, so cases of other test files in the same database stay out of the report.
let clock = new Date('2033-07-19T09:00:00Z');
let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let supervisor: Actor;
let agent: Actor;
const caseFile = { account: { id: 'acc-7' }, charge: { id: 'ch-7', amount: 60 } };
const tick = (minutes: number) => (clock = new Date(clock.getTime() + minutes * 60_000));

beforeAll(async () => {
  t = await startTestApp({ now: () => clock });
  api = caseApi(t);
  supervisor = await createActor(t.database.db, 'supervisor');
  agent = await createActor(t.database.db, 'agent');
});
afterAll(() => t.close());

async function conformance(caseId: string) {
  return api.expectStatus(await api.call(supervisor, 'GET', `/v1/cases/${caseId}/conformance`), 200).json();
}

describe('conformance', () => {
  let plain: CaseView;
  let improvised: CaseView;

  it('a case that follows its template: fitness 1, no deviations', async () => {
    plain = await api.open(supervisor, { template: 'billing-dispute', title: 'By the book', case_file: caseFile });
    tick(5);
    await api.complete(supervisor, taskOf(plain, fragmentOf(plain, 'verify-identity').id).id, { method: 'one_time_code', passed: true });
    const m = await conformance(plain.id);
    expect(m).toMatchObject({ case_id: plain.id, template: { key: 'billing-dispute', version: 1 }, fitness: 1, deviations: [], complete: true });
    expect(m.tokens).toEqual({ produced: 4, consumed: 1, missing: 0, remaining: 0 });
  });

  it('an improvised case: every departure is named, and the fitness is the token formula', async () => {
    tick(10);
    let c = await api.open(supervisor, { template: 'billing-dispute', title: 'Improvised', case_file: caseFile });
    const verify = fragmentOf(c, 'verify-identity');
    c = (await api.adapt(supervisor, c.id, verify.id, { action: 'jump', state: 'failed', reason: 'customer failed on the phone' })) as CaseView;
    // The template's machine is still in `verifying`: it would not take the failed check's review.
    await api.complete(supervisor, taskOf(c, verify.id, 'failed').id, { decision: 'retry' });
    c = await api.get(supervisor, c.id);
    await api.complete(supervisor, taskOf(c, verify.id, 'verifying').id, { method: 'id_document', passed: true });
    await api.addFragment(supervisor, c.id, { checklist: { title: 'Call the bank', steps: ['call', 'note the answer'] } });
    await api.addFragment(supervisor, c.id, { ref: 'refund-approval@1', reason: 'refund asked' });
    c = await api.get(supervisor, c.id);
    await api.adapt(supervisor, c.id, fragmentOf(c, 'notify-customer').id, { action: 'migrate', to: 'notify-customer@2', state_mapping: { notifying: 'drafting' }, reason: 'reviewed notices' });
    await api.adapt(supervisor, c.id, fragmentOf(c, 'investigate-charge').id, { action: 'cancel', reason: 'the bank explained it' });
    tick(30);
    improvised = await api.close(supervisor, c.id, { reason: 'customer withdrew the dispute' });

    const m = await conformance(c.id);
    const kinds = m.deviations.map((d: { kind: string }) => d.kind).sort();
    expect(kinds).toEqual(['default_cancelled', 'default_unfinished', 'goal_missed', 'goal_missed', 'insertion', 'jump', 'log_move', 'migration']);
    expect(m.deviations.find((d: { kind: string }) => d.kind === 'log_move')).toMatchObject({ fragment_id: verify.id, definition: 'verify-identity@1', event: 'IDENTITY_REVIEWED' });
    expect(m.deviations.find((d: { kind: string }) => d.kind === 'default_unfinished')).toMatchObject({ definition: 'notify-customer@1' });
    expect(m.deviations.filter((d: { kind: string }) => d.kind === 'goal_missed').map((d: { goal_key: string }) => d.goal_key).sort()).toEqual(['customer_notified', 'decision_made']);
    // 3 defaults + refund-approval started, one event taken; jump, log move, migration, insertion had no token.
    expect(m.tokens).toEqual({ produced: 5, consumed: 5, missing: 4, remaining: 2 });
    const { produced, consumed, missing, remaining } = m.tokens;
    expect(m.fitness).toBeCloseTo(0.5 * (1 - missing / consumed) + 0.5 * (1 - remaining / produced), 4);
    expect(m.fitness).toBeCloseTo(0.4, 4);
  });

  it('the report aggregates the period of a template, for supervisors only', async () => {
    const url = `/v1/reports/conformance?template=billing-dispute&from=2033-07-19T00:00:00Z&to=2033-07-20T00:00:00Z`;
    const report = api.expectStatus(await api.call(supervisor, 'GET', url), 200).json();
    expect(report).toMatchObject({
      cases: 2,
      measured: 2,
      incomplete: 0,
      fitness: { mean: 0.7, median: 0.4, min: 0.4 },
      insertions: [{ definition: 'checklist', cases: 1 }],
      versions: [{ template: 'billing-dispute', version: 1, cases: 2, mean_fitness: 0.7 }],
    });
    expect(report.deviations.jump).toEqual({ cases: 1, count: 1 });
    expect(report.deviations.goal_missed).toEqual({ cases: 1, count: 2 });
    expect(report.lowest[0]).toMatchObject({ case_id: improvised.id, fitness: 0.4 });
    const empty = api.expectStatus(await api.call(supervisor, 'GET', '/v1/reports/conformance?template=billing-dispute&from=2033-07-20T00:00:00Z'), 200).json();
    expect(empty).toMatchObject({ cases: 0, measured: 0, fitness: { mean: null } });

    expectProblem(await api.call(agent, 'GET', url), 403, 'FORBIDDEN');
    const bad = expectProblem(await api.call(supervisor, 'GET', '/v1/reports/conformance?from=yesterday'), 400, 'VALIDATION_FAILED');
    expect(bad.detail).toContain('from');
    expectProblem(await api.call(supervisor, 'GET', '/v1/reports/conformance?from=2033-07-20T00:00:00Z&to=2033-07-19T00:00:00Z'), 400, 'VALIDATION_FAILED');
    expectProblem(await api.call(supervisor, 'GET', '/v1/reports/conformance?template=no-such-thing'), 404, 'TEMPLATE_NOT_FOUND');
  });

  it('per case follows the case access rules', async () => {
    const stranger = await createActor(t.database.db, 'agent');
    expectProblem(await api.call(stranger, 'GET', `/v1/cases/${plain.id}/conformance`), 404, 'CASE_NOT_FOUND');
    expectProblem(await api.call(stranger, 'GET', `/v1/cases/${plain.id}/plan?at=1`), 404, 'CASE_NOT_FOUND');
    expectProblem(await api.call(supervisor, 'GET', `/v1/cases/${plain.id}/plan?at=soon`), 400, 'VALIDATION_FAILED');
    expectProblem(await api.call(supervisor, 'GET', `/v1/cases/${plain.id}/plan?at=99`), 422, 'HISTORY_NOT_AVAILABLE');
    expectProblem(await api.call(supervisor, 'GET', `/v1/cases/${plain.id}/plan?at=2031-03-01T00:00:00Z`), 422, 'HISTORY_NOT_AVAILABLE');
  });
});
