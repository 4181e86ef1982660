/**
 * billing-dispute end to end over HTTP on real Postgres: identity, billing records from the
 * billing system, investigation and decision, a refund above 100 with supervisor approval,
 * notify-customer migrated to v2 (reviewed notice) mid-flight, an inline fragment, a checklist
 * left unfinished (wound down at resolution), a required ad-hoc goal that holds the
 * resolution back, and auto resolution.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, entriesAfter, fragmentOf, taskOf, type CaseView } from '../support/case-api.js';
import { startTestApp } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let rows: ReturnType<typeof caseRows>;
let agent: Actor;
let colleague: Actor;
let supervisor: Actor;
let integrator: Actor;
let c: CaseView;

beforeAll(async () => {
  t = await startTestApp();
  api = caseApi(t);
  rows = caseRows(t);
  agent = await createActor(t.database.db, 'agent');
  colleague = await createActor(t.database.db, 'agent');
  supervisor = await createActor(t.database.db, 'supervisor');
  integrator = await createActor(t.database.db, 'integrator');
});
afterAll(() => t.close());

async function stepEntries(version: number) {
  return entriesAfter(await api.timeline(supervisor, c.id), version);
}

async function refresh() {
  c = await api.get(supervisor, c.id);
  return c;
}

describe('billing-dispute, end to end', () => {
  it('opens with identity, investigation and notification running; billing records are requested', async () => {
    c = await api.open(agent, {
      template: 'billing-dispute',
      title: 'Double charge on invoice INV-2041',
      customer: { id: 'cust-7', name: 'Ada Lovelace', email: 'ada@example.com' },
      case_file: { account: { id: 'acc-7', invoiceNumber: 'INV-2041' } },
    });
    expect(c).toMatchObject({ version: 1, status: 'open', owner_id: agent.userId, queue: 'billing' });
    expect(c.fragments.map((f) => [f.definition, f.states])).toEqual([
      ['verify-identity@1', ['verifying']],
      ['investigate-charge@1', ['requestingRecords']],
      ['notify-customer@1', ['notifying']],
    ]);
    expect(fragmentOf(c, 'investigate-charge').accepted_events).toEqual(['BILLING_RECORDS_RECEIVED']);
    expect(c.tasks.map((x) => x.title)).toEqual(["Verify the customer's identity", 'Notify the customer of the decision']);
    expect(await rows.outboxTypes(c.id)).toEqual(['case.opened', 'task.assigned', 'billing.records_requested', 'task.assigned']);
    const timers = await rows.timers(c.id);
    // One breach point per deadline; a warning point where the template's SLA has warnBefore.
    expect(timers.filter((x) => x.kind === 'goal_deadline').map((x) => [x.goal_key, (x.event as { type: string }).type]).sort()).toEqual([
      ['customer_notified', 'tessera.goal.breach'],
      ['decision_made', 'tessera.goal.breach'],
      ['decision_made', 'tessera.goal.warning'],
      ['identity_verified', 'tessera.goal.breach'],
      ['identity_verified', 'tessera.goal.warning'],
    ]);
    expect(timers.filter((x) => x.kind === 'fragment_delay').map((x) => [x.fragment_id, x.status])).toEqual([
      [fragmentOf(c, 'investigate-charge').id, 'pending'],
    ]);
    expect(timers.every((x) => x.status === 'pending')).toBe(true);
  });

  it('refuses to notify the customer before a decision (409 with accepted events) and writes nothing', async () => {
    const notify = fragmentOf(c, 'notify-customer');
    const before = await rows.snapshot(c.id);
    const res = await api.call(agent, 'POST', `/v1/tasks/${taskOf(c, notify.id).id}/complete`, { output: { channel: 'email', message: 'Refund on its way' } });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'EVENT_NOT_ACCEPTED', accepted_events: [] });
    expect(await rows.snapshot(c.id)).toEqual(before);
  });

  it('verifies identity: the first goal is achieved and its deadline timer cancelled', async () => {
    const verify = fragmentOf(c, 'verify-identity');
    await api.complete(agent, taskOf(c, verify.id, 'verifying').id, { method: 'one_time_code', passed: true, reference: 'otp-***91' });
    await refresh();
    expect(fragmentOf(c, 'verify-identity')).toMatchObject({ status: 'done', states: ['verified'] });
    expect(c.case_file.identity).toEqual({ method: 'one_time_code', reference: 'otp-***91', status: 'verified' });
    expect(c.goals.find((g) => g.key === 'identity_verified')?.status).toBe('achieved');
    expect((await rows.timers(c.id)).find((x) => x.goal_key === 'identity_verified')?.status).toBe('cancelled');
    expect(await rows.outboxTypes(c.id)).toEqual(expect.arrayContaining(['identity.verified', 'goal.achieved']));
    expect(await rows.outboxTypes(c.id)).not.toContain('identity.rejected');
  });

  it('the billing system sends the records: the 4-hour fallback is cancelled and investigation opens', async () => {
    const investigate = fragmentOf(c, 'investigate-charge');
    const before = c.version;
    await api.event(integrator, c.id, { type: 'BILLING_RECORDS_RECEIVED', data: { records: [{ id: 'ch_1', amount: 150 }, { id: 'ch_2', amount: 150 }] } });
    await refresh();
    expect(fragmentOf(c, 'investigate-charge').states).toEqual(['investigating']);
    expect(c.case_file.billing).toEqual({ records: [{ id: 'ch_1', amount: 150 }, { id: 'ch_2', amount: 150 }] });
    expect(c.case_file.billing.recordsMissing).toBeUndefined();
    expect(taskOf(c, investigate.id, 'investigating').title).toBe('Investigate the disputed charge');
    expect((await rows.timers(c.id)).filter((x) => x.kind === 'fragment_delay').map((x) => x.status)).toEqual(['cancelled']);
    const entries = await stepEntries(before);
    expect(entries[0]).toMatchObject({ type: 'event.received', actor: { id: integrator.userId, role: 'integrator' }, data: { fragmentIds: [investigate.id] } });
  });

  it('dry-runs the migration of notify-customer to v2: the result describes it, nothing is written', async () => {
    const notify = fragmentOf(c, 'notify-customer');
    const before = await rows.snapshot(c.id);
    const res = await api.call(agent, 'POST', `/v1/cases/${c.id}/fragments/${notify.id}/adapt`, {
      action: 'migrate',
      to: 'notify-customer@2',
      state_mapping: { notifying: 'drafting' },
      reason: 'Notices need a supervisor review from now on',
      dry_run: true,
    });
    api.expectStatus(res, 200);
    expect(res.headers['etag']).toBe(`"v${before.version}"`);
    expect(res.json().result).toMatchObject({
      dry_run: true,
      to: { definition: 'notify-customer@2', states: ['drafting'] },
      tasks: { closed: [{ state_key: 'notifying' }], opened: [{ state_key: 'drafting' }] },
    });
    expect(await rows.snapshot(c.id)).toEqual(before);
  });

  it('migrates notify-customer to v2 with a state mapping', async () => {
    const notify = fragmentOf(c, 'notify-customer');
    const oldTask = taskOf(c, notify.id, 'notifying');
    const before = c.version;
    const res = await api.adapt(agent, c.id, notify.id, {
      action: 'migrate',
      to: 'notify-customer@2',
      state_mapping: { notifying: 'drafting' },
      reason: 'Notices need a supervisor review from now on',
    });
    expect(res.result).toMatchObject({ from: { definition: 'notify-customer@1', states: ['notifying'] }, to: { states: ['drafting'] } });
    await refresh();
    expect(c.version).toBe(before + 1);
    expect(fragmentOf(c, 'notify-customer')).toMatchObject({ definition: 'notify-customer@2', states: ['drafting'], title: 'Notify the customer of the decision (reviewed)' });
    expect(taskOf(c, notify.id, 'drafting').title).toBe('Draft the decision notice for the customer');
    expect((await rows.tasks(c.id)).find((x) => x.id === oldTask.id)?.status).toBe('cancelled');
    const entries = await stepEntries(before);
    expect(entries.map((e) => e.type)).toEqual(['fragment.migrated', 'task.cancelled', 'task.opened']);
    expect(entries.every((e) => e.reason === 'Notices need a supervisor review from now on' && e.actor.id === agent.userId)).toBe(true);
  });

  it('investigates and decides a refund of 150', async () => {
    const investigate = fragmentOf(c, 'investigate-charge');
    await api.complete(agent, taskOf(c, investigate.id, 'investigating').id, { finding: 'duplicate_charge', disputedAmount: 150 });
    await refresh();
    expect(c.milestones).toHaveProperty('charge_investigated');
    expect(c.priority.value).toBe('normal');
    await api.complete(agent, taskOf(c, investigate.id, 'deciding').id, { decision: 'refund', amount: 150, reason: 'Charged twice' });
    await refresh();
    expect(fragmentOf(c, 'investigate-charge').status).toBe('done');
    expect(c.case_file.dispute).toEqual({ finding: 'duplicate_charge', disputedAmount: 150, decision: 'refund', reason: 'Charged twice' });
    expect(c.case_file.refund).toEqual({ amount: 150 });
    expect(c.goals.find((g) => g.key === 'decision_made')?.status).toBe('achieved');
    expect(await rows.outboxTypes(c.id)).toContain('dispute.decided');
    expect(await rows.outboxTypes(c.id)).not.toContain('fraud.suspected');
  });

  it('adds refund-approval: above 100 it goes straight to a supervisor approval with a reminder timer', async () => {
    const before = c.version;
    await refresh();
    c = await api.addFragment(agent, c.id, { ref: 'refund-approval@1', reason: 'Refund the duplicate charge' });
    const refund = fragmentOf(c, 'refund-approval');
    expect(refund.states).toEqual(['approving']);
    expect(taskOf(c, refund.id, 'approving')).toMatchObject({ role: 'supervisor' });
    expect(c.tasks.some((x) => x.state === 'preparing')).toBe(false);
    const delays = (await rows.timers(c.id)).filter((x) => x.fragment_id === refund.id);
    expect(delays.map((x) => x.status)).toEqual(['pending']);
    expect((await stepEntries(before))[0]).toMatchObject({ type: 'fragment.added', reason: 'Refund the duplicate charge', data: { definition: 'refund-approval@1', source: 'library' } });
  });

  it('the supervisor approves: the reminder is cancelled and refund.requested goes to the outbox', async () => {
    const refund = fragmentOf(c, 'refund-approval');
    await api.complete(supervisor, taskOf(c, refund.id, 'approving').id, { approved: true, comment: 'OK' });
    await refresh();
    expect(fragmentOf(c, 'refund-approval')).toMatchObject({ states: ['issuing'], accepted_events: ['REFUND_FAILED', 'REFUND_ISSUED'] });
    expect(c.case_file.refund).toMatchObject({ amount: 150, supervisorApproved: true });
    expect((await rows.timers(c.id)).filter((x) => x.fragment_id === refund.id).map((x) => x.status)).toEqual(['cancelled']);
    const outbox = await rows.outboxTypes(c.id);
    expect(outbox.at(-1)).toBe('refund.requested');
    expect(outbox).not.toContain('refund.approval_overdue');
  });

  it('the supervisor adds a required goal with a deadline and moves another deadline, with reasons', async () => {
    const before = c.version;
    const deadline = new Date(Date.now() + 3 * 86_400_000).toISOString();
    c = await api.addGoal(supervisor, c.id, {
      key: 'refund_settled',
      title: 'Refund settled by the billing system',
      condition: "'refund_issued' in milestones",
      required: true,
      deadline_at: deadline,
      reason: 'Do not resolve before the money is back',
    });
    expect(c.goals.find((g) => g.key === 'refund_settled')).toMatchObject({ status: 'open', required: true, ad_hoc: true, deadline_at: deadline });
    const goalTimer = (await rows.timers(c.id)).find((x) => x.goal_key === 'refund_settled');
    expect(goalTimer).toMatchObject({ kind: 'goal_deadline', status: 'pending' });

    const moved = new Date(Date.now() + 4 * 86_400_000).toISOString();
    c = await api.patchGoal(supervisor, c.id, 'customer_notified', { deadline_at: moved, reason: 'Customer on holiday' });
    expect(c.goals.find((g) => g.key === 'customer_notified')?.deadline_at).toBe(moved);
    const notifiedTimers = (await rows.timers(c.id)).filter((x) => x.goal_key === 'customer_notified');
    expect(notifiedTimers.map((x) => x.status).sort()).toEqual(['cancelled', 'pending']);

    const entries = await stepEntries(before);
    expect(entries.map((e) => [e.type, e.actor.id, e.reason])).toEqual([
      ['goal.added', supervisor.userId, 'Do not resolve before the money is back'],
      ['goal.updated', supervisor.userId, 'Customer on holiday'],
    ]);
    expect((await rows.outboxTypes(c.id)).slice(-2)).toEqual(['goal.added', 'goal.updated']);
  });

  it('authors an inline fragment and completes its task', async () => {
    c = await api.addFragment(agent, c.id, {
      reason: 'Check the other invoices of this account',
      definition: {
        title: 'Scan other invoices',
        machine: {
          id: 'scan',
          initial: 'scanning',
          states: {
            scanning: {
              tags: ['task'],
              meta: { task: { title: 'Scan the last 12 invoices', role: 'agent', event: 'SCANNED', form: { type: 'object', required: ['affected'], properties: { affected: { type: 'integer', minimum: 0 } } } } },
              on: {
                SCANNED: [
                  { guard: { type: 'expr', params: { expr: 'event.data.affected > 0' } }, target: 'found', actions: [{ type: 'assignCaseFile', params: { path: 'scan.affected', fromEvent: 'data.affected' } }] },
                  { target: 'clean' },
                ],
              },
            },
            found: { type: 'final', entry: [{ type: 'emit', params: { eventType: 'billing.more_affected' } }] },
            clean: { type: 'final' },
          },
        },
      },
    });
    const inline = c.fragments.find((f) => f.title === 'Scan other invoices')!;
    expect(inline.definition).toBe(`inline-${inline.id}@1`);
    await api.complete(agent, taskOf(c, inline.id, 'scanning').id, { affected: 0 });
    await refresh();
    expect(c.fragments.find((f) => f.id === inline.id)).toMatchObject({ status: 'done', states: ['clean'] });
    expect(c.case_file.scan).toBeUndefined();
    expect(await rows.outboxTypes(c.id)).not.toContain('billing.more_affected');
  });

  it('adds a checklist and completes its first step', async () => {
    c = await api.addFragment(agent, c.id, { checklist: { title: 'Account follow-up', steps: ['Note the refund on the account', 'Flag the invoice run to billing ops'] } });
    const checklist = c.fragments.find((f) => f.title === 'Account follow-up')!;
    await api.complete(agent, taskOf(c, checklist.id, 'step1').id);
    await refresh();
    expect(c.fragments.find((f) => f.id === checklist.id)).toMatchObject({ status: 'active', states: ['step2'] });
  });

  it('reassigns the case to a colleague (supervisor) and the notice task to the colleague', async () => {
    const before = c.version;
    c = await api.reassign(supervisor, c.id, { owner_id: colleague.userId, reason: 'Shift change' });
    expect(c.owner_id).toBe(colleague.userId);
    const notify = fragmentOf(c, 'notify-customer');
    const task = taskOf(c, notify.id, 'drafting');
    await api.reassignTask(supervisor, task.id, { assignment: { user_id: colleague.userId }, reason: 'Shift change' });
    await refresh();
    expect(taskOf(c, notify.id, 'drafting')).toMatchObject({ id: task.id, assignee_id: colleague.userId, queue: null });
    const entries = await stepEntries(before);
    expect(entries.map((e) => [e.type, e.reason])).toEqual([
      ['case.reassigned', 'Shift change'],
      ['task.reassigned', 'Shift change'],
    ]);
    expect((await rows.outboxTypes(c.id)).slice(-2)).toEqual(['case.reassigned', 'task.assigned']);
  });

  it('drafts and reviews the notice (v2): customer_notified is achieved but the case stays open for the refund goal', async () => {
    const notify = fragmentOf(c, 'notify-customer');
    await api.complete(colleague, taskOf(c, notify.id, 'drafting').id, { channel: 'email', message: 'We refund the duplicate charge of 150.' });
    await refresh();
    const review = taskOf(c, notify.id, 'reviewing');
    expect(review.role).toBe('supervisor');
    expect((await rows.timers(c.id)).filter((x) => x.fragment_id === notify.id && x.status === 'pending')).toHaveLength(1);
    await api.complete(supervisor, review.id, { approved: true });
    await refresh();
    expect(fragmentOf(c, 'notify-customer')).toMatchObject({ status: 'done', states: ['notified'] });
    expect((await rows.timers(c.id)).filter((x) => x.fragment_id === notify.id && x.status === 'pending')).toHaveLength(0);
    expect(c.goals.find((g) => g.key === 'customer_notified')?.status).toBe('achieved');
    expect(c.goals.find((g) => g.key === 'refund_settled')?.status).toBe('open');
    expect(c.status).toBe('open');
    expect(await rows.outboxTypes(c.id)).not.toContain('case.resolved');
  });

  it('REFUND_ISSUED from billing achieves the last goal: the case resolves and winds the checklist down', async () => {
    const checklist = c.fragments.find((f) => f.title === 'Account follow-up')!;
    const leftover = taskOf(c, checklist.id, 'step2');
    const before = c.version;
    await api.event(integrator, c.id, { type: 'REFUND_ISSUED', data: { transactionId: 'tx_991' } });
    await refresh();
    expect(c).toMatchObject({ status: 'resolved', version: before + 1, tasks: [], accepted_events: [] });
    expect(c.case_file.refund).toMatchObject({ transactionId: 'tx_991', status: 'issued' });
    expect(c.goals.every((g) => g.status === 'achieved')).toBe(true);
    expect(c.fragments.find((f) => f.id === checklist.id)?.status).toBe('cancelled');
    expect((await rows.tasks(c.id)).find((x) => x.id === leftover.id)?.status).toBe('cancelled');
    expect((await rows.tasks(c.id)).filter((x) => x.status === 'open')).toEqual([]);
    expect((await rows.timers(c.id)).filter((x) => x.status === 'pending')).toEqual([]);
    const outbox = await rows.outboxTypes(c.id);
    expect(outbox.filter((x) => x === 'case.resolved')).toHaveLength(1);
    expect(outbox).toEqual(expect.arrayContaining(['refund.issued', 'case.resolved']));
    const entries = await stepEntries(before);
    expect(entries.map((e) => e.type)).toEqual(expect.arrayContaining(['event.received', 'goal.achieved', 'case.resolved', 'task.cancelled']));
    expect(entries.every((e) => e.actor.id === integrator.userId)).toBe(true);
  });

  it('the journal has one version per command and an actor on every entry', async () => {
    const journal = await api.timeline(supervisor, c.id);
    expect([...new Set(journal.map((e) => e.version))]).toEqual(Array.from({ length: c.version }, (_, i) => i + 1));
    expect(journal.every((e) => e.actor.id && e.actor.role)).toBeTruthy();
  });
});
