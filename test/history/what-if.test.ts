/**
 * What-if: every adaptation command takes `dry_run: true` and answers the resulting plan, the
 * goals' projected SLA and the capacity of the people it touches — and writes nothing: the case
 * row, journal, command records, timers, tasks, outbox, goal views and idempotency keys stay as
 * they were.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planView } from '../../src/cases/plan-view.js';
import type { CaseState } from '../../src/cases/types.js';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, expectProblem, fragmentOf, taskOf, type CaseView } from '../support/case-api.js';
import { startTestApp } from '../support/platform.js';

let clock = new Date('2026-11-02T09:00:00Z');
let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let rows: ReturnType<typeof caseRows>;
let supervisor: Actor;
let agent: Actor;

beforeAll(async () => {
  t = await startTestApp({ now: () => clock });
  api = caseApi(t);
  rows = caseRows(t);
  supervisor = await createActor(t.database.db, 'supervisor');
  agent = await createActor(t.database.db, 'agent');
});
afterAll(() => t.close());

const caseFile = { account: { id: 'acc-9' }, charge: { id: 'ch-9', amount: 80 } };

/** Everything a command could write for this case. */
async function everything(caseId: string) {
  const db = t.database.db;
  const count = async (table: 'journal_commands' | 'goal_views' | 'idempotency_keys') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).where('case_id', '=', caseId).executeTakeFirstOrThrow()).n);
  const goalViews = await db.selectFrom('goal_views').selectAll().where('case_id', '=', caseId).orderBy('goal_key').execute();
  return { ...(await rows.snapshot(caseId)), records: await count('journal_commands'), goalViews, idempotency: await count('idempotency_keys') };
}

describe('dry runs', () => {
  let c: CaseView;

  it('a resolved history gives verify-identity a measured duration', async () => {
    clock = new Date('2026-11-02T09:00:00Z');
    const past = await api.open(supervisor, { template: 'billing-dispute', title: 'Earlier dispute', case_file: caseFile });
    clock = new Date('2026-11-02T09:30:00Z');
    await api.complete(supervisor, taskOf(past, fragmentOf(past, 'verify-identity').id).id, { method: 'one_time_code', passed: true });
    await api.close(supervisor, past.id, { reason: 'settled by phone' });
    const sample = await t.database.db.selectFrom('journal').select('type').where('case_id', '=', past.id).where('type', '=', 'fragment.completed').execute();
    expect(sample).toHaveLength(1);
  });

  it('adding a fragment: the plan has it running, the case and every table stay as they were', async () => {
    clock = new Date('2026-11-02T10:00:00Z');
    c = await api.open(agent, { template: 'billing-dispute', title: 'Double charge', case_file: caseFile });
    const before = await everything(c.id);
    const res = await api.call(agent, 'POST', `/v1/cases/${c.id}/fragments`, { ref: 'refund-approval@1', reason: 'customer asks for a refund', dry_run: true }, { 'idempotency-key': 'what-if-1' });
    api.expectStatus(res, 200);
    const body = res.json();
    expect(res.headers['etag']).toBe(`"v${c.version}"`);
    expect(body.dry_run).toBe(true);
    expect(body.case.version).toBe(c.version);
    expect(body.plan.version).toBe(c.version + 1);
    expect(body.plan.fragments.map((f: { definition: string; status: string }) => [f.definition, f.status])).toContainEqual(['refund-approval@1', 'active']);
    expect(body.result).toMatchObject({ dry_run: true });
    expect(body.goals_projection.map((g: { goal_key: string }) => g.goal_key)).toEqual(['identity_verified', 'decision_made', 'customer_notified']);
    expect(await everything(c.id)).toEqual(before);
    // And the real command afterwards makes exactly the plan the dry run showed (ids aside).
    const real = await api.addFragment(agent, c.id, { ref: 'refund-approval@1', reason: 'customer asks for a refund' });
    const live = (await t.database.db.selectFrom('cases').select('state').where('id', '=', c.id).executeTakeFirstOrThrow()).state as CaseState;
    const strip = (p: ReturnType<typeof planView>) => ({ ...p, fragments: p.fragments.map((f) => ({ ...f, id: '' })), tasks: p.tasks.map((x) => ({ ...x, id: '', fragment_id: '' })) });
    expect(strip(planView(live))).toEqual(strip(body.plan));
    c = real;
  });

  it('moving a deadline projects the goal from the median duration of verify-identity in resolved cases', async () => {
    const before = await everything(c.id);
    const early = new Date(clock.getTime() + 10 * 60_000).toISOString();
    const res = await api.call(supervisor, 'PATCH', `/v1/cases/${c.id}/goals/identity_verified`, { deadline_at: early, reason: 'promised a call back', dry_run: true });
    const body = api.expectStatus(res, 200).json();
    const goal = body.goals_projection.find((g: { goal_key: string }) => g.goal_key === 'identity_verified');
    expect(goal.deadline_at).toBe(early);
    const basis = goal.basis.find((b: { definition: string }) => b.definition === 'verify-identity@1');
    expect(basis.samples).toBeGreaterThanOrEqual(1);
    expect(basis.median_ms).toEqual(expect.any(Number));
    const started = Date.parse((fragmentOf(c, 'verify-identity') as unknown as { started_at: string }).started_at);
    expect(goal.projected_done_at).toBe(new Date(Math.max(clock.getTime(), started + basis.median_ms)).toISOString());
    // Past the early deadline the projection is a breach; before it, whatever the clock says (at risk or on track).
    if (Date.parse(goal.projected_done_at) > Date.parse(early)) expect(goal.projected_sla).toBe('breached');
    else expect(['on_track', 'at_risk']).toContain(goal.projected_sla);
    // A deadline far after the expected end is on track.
    const late = new Date(Date.parse(goal.projected_done_at) + 86_400_000).toISOString();
    const relaxed = api.expectStatus(await api.call(supervisor, 'PATCH', `/v1/cases/${c.id}/goals/identity_verified`, { deadline_at: late, reason: 'more time', dry_run: true }), 200).json();
    expect(relaxed.goals_projection.find((g: { goal_key: string }) => g.goal_key === 'identity_verified').projected_sla).toBe('on_track');
    expect(relaxed.plan.goals.find((g: { key: string }) => g.key === 'identity_verified').deadline_at).toBe(late);
    expect(await everything(c.id)).toEqual(before);
  });

  it('reassigning to a person shows their capacity after it; jump, cancel, add goal and migrate write nothing either', async () => {
    const before = await everything(c.id);
    const reassign = api.expectStatus(await api.call(supervisor, 'POST', `/v1/cases/${c.id}/reassign`, { owner_id: agent.userId, reason: 'she knows the customer', dry_run: true }), 200).json();
    expect(reassign.plan.owner_id).toBe(agent.userId);
    const load = reassign.capacity.find((p: { user_id: string }) => p.user_id === agent.userId);
    expect(load).toMatchObject({ user_id: agent.userId, limit: expect.any(Number) });
    expect(load.used_after).toBeGreaterThanOrEqual(load.used_before);

    const task = c.tasks[0]!;
    const moved = api.expectStatus(await api.call(supervisor, 'POST', `/v1/tasks/${task.id}/reassign`, { assignment: { user_id: agent.userId }, reason: 'her customer', dry_run: true }), 200).json();
    expect(moved.plan.tasks.find((x: { id: string }) => x.id === task.id).assignee_id).toBe(agent.userId);
    const hers = moved.capacity.find((p: { user_id: string }) => p.user_id === agent.userId);
    expect(hers.used_after).toBe(hers.used_before + 1);
    expect(moved.case_version).toBe(c.version);

    const refund = fragmentOf(c, 'refund-approval');
    const cancel = api.expectStatus(await api.call(supervisor, 'POST', `/v1/cases/${c.id}/fragments/${refund.id}/adapt`, { action: 'cancel', reason: 'no refund after all', dry_run: true }), 200).json();
    expect(cancel.plan.fragments.find((f: { id: string }) => f.id === refund.id).status).toBe('cancelled');
    const verify = fragmentOf(c, 'verify-identity');
    const jump = api.expectStatus(await api.call(supervisor, 'POST', `/v1/cases/${c.id}/fragments/${verify.id}/adapt`, { action: 'jump', state: 'verified', reason: 'verified in branch', dry_run: true }), 200).json();
    expect(jump.plan.milestones).toHaveProperty('identity_verified');
    expect(jump.plan.goals.find((g: { key: string }) => g.key === 'identity_verified').status).toBe('achieved');
    const goal = api.expectStatus(await api.call(supervisor, 'POST', `/v1/cases/${c.id}/goals`, { key: 'callback', title: 'Call back', condition: "'called' in milestones", deadline_at: '2026-11-03T10:00:00Z', dry_run: true }), 200).json();
    expect(goal.plan.goals.map((g: { key: string }) => g.key)).toContain('callback');
    const notify = fragmentOf(c, 'notify-customer');
    const migrate = api.expectStatus(await api.call(supervisor, 'POST', `/v1/cases/${c.id}/fragments/${notify.id}/adapt`, {
      action: 'migrate', to: 'notify-customer@2', state_mapping: { notifying: 'drafting' }, reason: 'v2', dry_run: true,
    }), 200).json();
    expect(migrate.plan.fragments.find((f: { id: string }) => f.id === notify.id)).toMatchObject({ definition: 'notify-customer@2', states: ['drafting'] });
    expect(migrate.result).toMatchObject({ dry_run: true, to: { definition: 'notify-customer@2' } });
    expect(await everything(c.id)).toEqual(before);
  });

  it('a refused dry run answers as the real command would, and writes nothing', async () => {
    const before = await everything(c.id);
    expectProblem(await api.call(supervisor, 'POST', `/v1/cases/${c.id}/fragments/nope/adapt`, { action: 'cancel', reason: 'x', dry_run: true }), 404, 'FRAGMENT_NOT_FOUND');
    expectProblem(await api.call(supervisor, 'PATCH', `/v1/cases/${c.id}/goals/identity_verified`, { deadline_at: '2026-11-03T10:00:00Z', reason: 'x', dry_run: true }, { 'if-match': '"v1"' }), 412, 'VERSION_MISMATCH');
    // An agent who may not see the case is told it does not exist, as by the real command.
    const other = await createActor(t.database.db, 'agent');
    const url = `/v1/cases/${c.id}/fragments/${fragmentOf(c, 'verify-identity').id}/adapt`;
    expectProblem(await api.call(other, 'POST', url, { action: 'jump', state: 'verified', reason: 'x', dry_run: true }), 404, 'CASE_NOT_FOUND');
    expectProblem(await api.call(other, 'POST', url, { action: 'jump', state: 'verified', reason: 'x' }), 404, 'CASE_NOT_FOUND');
    expect(await everything(c.id)).toEqual(before);
  });
});
