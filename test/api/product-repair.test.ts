/**
 * product-repair end to end over HTTP on real Postgres: RMA, a queue task claimed from the
 * returns desk, customer-update migrated to v2 (acknowledgement) keeping its open task, the
 * supplier rejecting the repair, a replacement approved by a supervisor and delivered, an
 * inline fragment, a checklist, reassignment, goals — and, since resolution is `owner`, no
 * automatic resolution: the owner closes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, entriesAfter, fragmentOf, taskOf, type CaseView } from '../support/case-api.js';
import { startTestApp } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let rows: ReturnType<typeof caseRows>;
let agent: Actor;
let desk: Actor;
let lead: Actor;
let supervisor: Actor;
let integrator: Actor;
let c: CaseView;

beforeAll(async () => {
  t = await startTestApp();
  api = caseApi(t);
  rows = caseRows(t);
  agent = await createActor(t.database.db, 'agent');
  // The returns desk works the returns-desk queue: it sees and claims the tasks queued there.
  desk = await createActor(t.database.db, 'agent', undefined, ['returns-desk']);
  lead = await createActor(t.database.db, 'agent');
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

describe('product-repair, end to end', () => {
  it('opens with the RMA, the supplier repair and a customer update running', async () => {
    c = await api.open(agent, {
      template: 'product-repair',
      title: 'Espresso machine leaks',
      customer: { id: 'cust-3' },
      case_file: { order: { id: 'ord-55', purchasedAt: '2025-11-02' }, device: { model: 'Barista Pro' } },
    });
    expect(c).toMatchObject({ version: 1, status: 'open', owner_id: agent.userId, queue: 'repairs' });
    expect(c.fragments.map((f) => [f.definition, f.states])).toEqual([
      ['issue-rma@1', ['checkingWarranty']],
      ['supplier-repair@1', ['awaitingDevice']],
      ['customer-update@1', ['updating']],
    ]);
    expect(taskOf(c, fragmentOf(c, 'supplier-repair').id, 'awaitingDevice').queue).toBe('returns-desk');
    expect(c.goals.map((g) => [g.key, g.required])).toEqual([
      ['rma_issued', true],
      ['customer_informed', false],
      ['supplier_verdict', false],
      ['working_device_returned', true],
    ]);
    const timers = await rows.timers(c.id);
    // 4 breach points, plus warning points for the 2 SLAs with warnBefore (rma_issued, working_device_returned).
    expect(timers.filter((x) => x.kind === 'goal_deadline').map((x) => [x.goal_key, (x.event as { type: string }).type]).sort()).toEqual([
      ['customer_informed', 'tessera.goal.breach'],
      ['rma_issued', 'tessera.goal.breach'],
      ['rma_issued', 'tessera.goal.warning'],
      ['supplier_verdict', 'tessera.goal.breach'],
      ['working_device_returned', 'tessera.goal.breach'],
      ['working_device_returned', 'tessera.goal.warning'],
    ]);
    expect(timers.filter((x) => x.kind === 'fragment_delay').map((x) => x.fragment_id)).toEqual([fragmentOf(c, 'supplier-repair').id]);
  });

  it('a supervisor reassigns the RMA task to a lead, who issues the RMA', async () => {
    const rma = fragmentOf(c, 'issue-rma');
    const task = taskOf(c, rma.id, 'checkingWarranty');
    const res = await api.reassignTask(supervisor, task.id, { assignment: { user_id: lead.userId }, reason: 'Warranty edge case' });
    expect(res.task).toMatchObject({ assignee_id: lead.userId, queue: null });
    // The lead now sees the case through the task.
    api.expectStatus(await api.call(lead, 'GET', `/v1/cases/${c.id}`), 200);
    await api.complete(lead, task.id, { rmaNumber: 'RMA-004711', serialNumber: 'SN-1', fault: 'Leaks at the pump', inWarranty: true });
    await refresh();
    expect(fragmentOf(c, 'issue-rma')).toMatchObject({ status: 'done', states: ['issued'] });
    expect(c.case_file.rma).toEqual({ number: 'RMA-004711', fault: 'Leaks at the pump' });
    expect(c.case_file.device).toEqual({ model: 'Barista Pro', serialNumber: 'SN-1', inWarranty: true });
    expect(c.goals.find((g) => g.key === 'rma_issued')?.status).toBe('achieved');
    expect(await rows.outboxTypes(c.id)).toContain('rma.issued');
    expect(c.tasks.some((x) => x.state === 'quotingPaidRepair')).toBe(false);
  });

  it('the returns desk claims the queue task and receives the device: the 10-day reminder is cancelled', async () => {
    const repair = fragmentOf(c, 'supplier-repair');
    const task = taskOf(c, repair.id, 'awaitingDevice');
    const claimed = await api.claim(desk, task.id);
    expect(claimed.task).toMatchObject({ claimed_by: desk.userId, assignee_id: desk.userId });
    await api.complete(desk, task.id, { condition: 'as_described' });
    await refresh();
    expect(fragmentOf(c, 'supplier-repair').states).toEqual(['shippingToSupplier']);
    expect(c.milestones).toHaveProperty('device_received');
    expect((await rows.timers(c.id)).filter((x) => x.fragment_id === repair.id).map((x) => x.status)).toEqual(['cancelled']);
    expect(await rows.outboxTypes(c.id)).not.toContain('repair.device_not_received');
  });

  it('dry-runs, then migrates customer-update to v2: the open task in the mapped state stays open', async () => {
    const update = fragmentOf(c, 'customer-update');
    const task = taskOf(c, update.id, 'updating');
    const before = await rows.snapshot(c.id);
    const body = { action: 'migrate', to: 'customer-update@2', state_mapping: { updating: 'updating' }, reason: 'Updates now wait for an acknowledgement' };
    const dry = await api.adapt(agent, c.id, update.id, { ...body, dry_run: true });
    expect(dry.result).toMatchObject({ dry_run: true, to: { definition: 'customer-update@2', states: ['updating'] }, tasks: { closed: [], opened: [] } });
    expect(await rows.snapshot(c.id)).toEqual(before);

    const res = await api.adapt(agent, c.id, update.id, body);
    expect(res.case.version).toBe(before.version! + 1);
    await refresh();
    expect(fragmentOf(c, 'customer-update')).toMatchObject({ definition: 'customer-update@2', states: ['updating'] });
    expect(taskOf(c, update.id, 'updating').id).toBe(task.id);
    const entries = await stepEntries(before.version!);
    expect(entries.map((e) => e.type)).toEqual(['fragment.migrated']);
    expect(entries[0]).toMatchObject({ reason: 'Updates now wait for an acknowledgement', actor: { id: agent.userId } });
    const after = await rows.snapshot(c.id);
    expect(after.tasks).toBe(before.tasks);
    expect(after.outbox).toBe(before.outbox);
  });

  it('the v2 update waits for the customer acknowledgement, then informs the goal', async () => {
    const update = fragmentOf(c, 'customer-update');
    await api.complete(agent, taskOf(c, update.id, 'updating').id, { channel: 'sms', message: 'Your machine reached us' });
    await refresh();
    expect(fragmentOf(c, 'customer-update')).toMatchObject({ states: ['awaitingAcknowledgement'], accepted_events: ['CUSTOMER_ACKNOWLEDGED'] });
    expect(c.goals.find((g) => g.key === 'customer_informed')?.status).toBe('open');
    expect((await rows.timers(c.id)).filter((x) => x.fragment_id === update.id).map((x) => x.status)).toEqual(['pending']);

    await api.event(integrator, c.id, { type: 'CUSTOMER_ACKNOWLEDGED' });
    await refresh();
    expect(fragmentOf(c, 'customer-update')).toMatchObject({ status: 'done', states: ['updated'] });
    expect(c.goals.find((g) => g.key === 'customer_informed')?.status).toBe('achieved');
    expect((await rows.timers(c.id)).filter((x) => x.fragment_id === update.id).map((x) => x.status)).toEqual(['cancelled']);
    const outbox = await rows.outboxTypes(c.id);
    expect(outbox).toContain('customer.updated');
    expect(outbox).not.toContain('customer.update_unacknowledged');
  });

  it('ships to the supplier, who rejects the repair: verdict goal achieved, priority high, reminder cancelled', async () => {
    const repair = fragmentOf(c, 'supplier-repair');
    await api.complete(desk, taskOf(c, repair.id, 'shippingToSupplier').id, { supplier: 'FixCo', carrier: 'DHL', trackingNumber: 'JD0001' });
    await refresh();
    expect(fragmentOf(c, 'supplier-repair').states).toEqual(['atSupplier']);
    const pending = (await rows.timers(c.id)).filter((x) => x.fragment_id === repair.id && x.status === 'pending');
    expect(pending).toHaveLength(1);

    const before = c.version;
    await api.event(integrator, c.id, { type: 'SUPPLIER_REJECTED', data: { reason: 'Water damage' } });
    await refresh();
    expect(fragmentOf(c, 'supplier-repair')).toMatchObject({ status: 'done', states: ['rejected'] });
    expect(c.priority.value).toBe('high');
    expect(c.case_file.repair).toEqual({ supplier: 'FixCo', outcome: 'rejected', rejectionReason: 'Water damage' });
    expect(c.goals.find((g) => g.key === 'supplier_verdict')?.status).toBe('achieved');
    expect(c.goals.find((g) => g.key === 'working_device_returned')?.status).toBe('open');
    expect((await rows.timers(c.id)).find((x) => x.id === pending[0]!.id)?.status).toBe('cancelled');
    const entries = await stepEntries(before);
    expect(entries.map((e) => e.type)).toEqual(expect.arrayContaining(['event.received', 'case.priority_changed', 'goal.achieved']));
    expect(await rows.outboxTypes(c.id)).toEqual(expect.arrayContaining(['supplier.repair_requested', 'repair.rejected']));
  });

  it('adds a replacement; the supervisor approves it and logistics is told', async () => {
    c = await api.addFragment(agent, c.id, { ref: 'replacement@1', reason: 'Repair rejected' });
    const replacement = fragmentOf(c, 'replacement');
    await api.complete(supervisor, taskOf(c, replacement.id, 'approving').id, { approved: true, model: 'Barista Pro 2', reason: 'In warranty' });
    await refresh();
    expect(fragmentOf(c, 'replacement')).toMatchObject({ states: ['awaitingDelivery'], accepted_events: ['REPLACEMENT_DELIVERED'] });
    expect(c.case_file.replacement).toEqual({ model: 'Barista Pro 2', reason: 'In warranty' });
    expect((await rows.outboxTypes(c.id)).at(-1)).toBe('replacement.ordered');
    expect((await rows.timers(c.id)).filter((x) => x.fragment_id === replacement.id).map((x) => x.status)).toEqual(['pending']);
  });

  it('authors an inline fragment (data wipe) and a checklist, and completes them', async () => {
    c = await api.addFragment(agent, c.id, {
      reason: 'Customer asked for a certified data wipe',
      assignment: { user_id: desk.userId },
      definition: {
        title: 'Certified data wipe',
        machine: {
          id: 'wipe',
          initial: 'wiping',
          states: {
            wiping: {
              tags: ['task'],
              meta: { task: { title: 'Wipe and certify', event: 'WIPED', form: { type: 'object', required: ['certificate'], properties: { certificate: { type: 'string' } } } } },
              on: { WIPED: { target: 'wiped', actions: [{ type: 'assignCaseFile', params: { path: 'wipe.certificate', fromEvent: 'data.certificate' } }] } },
            },
            wiped: { type: 'final' },
          },
        },
      },
    });
    const inline = c.fragments.find((f) => f.title === 'Certified data wipe')!;
    expect(inline.assignee_id).toBe(desk.userId);
    const wipeTask = taskOf(c, inline.id, 'wiping');
    expect(wipeTask.assignee_id).toBe(desk.userId);
    await api.complete(desk, wipeTask.id, { certificate: 'WIPE-77' });

    c = await api.addFragment(agent, c.id, { checklist: { title: 'Returns paperwork', steps: ['Send a prepaid label', 'Log the defect'] } });
    const checklist = c.fragments.find((f) => f.title === 'Returns paperwork')!;
    await api.complete(agent, taskOf(c, checklist.id, 'step1').id);
    await refresh();
    await api.complete(agent, taskOf(c, checklist.id, 'step2').id);
    await refresh();
    expect(c.fragments.find((f) => f.id === inline.id)?.status).toBe('done');
    expect(c.fragments.find((f) => f.id === checklist.id)?.status).toBe('done');
    expect(c.case_file.wipe).toEqual({ certificate: 'WIPE-77' });
  });

  it('the supervisor adds a goal, moves a deadline and reassigns the case to a lead', async () => {
    const before = c.version;
    c = await api.addGoal(supervisor, c.id, { key: 'replacement_delivered', title: 'Replacement delivered', condition: "'replacement_delivered' in milestones", reason: 'Track logistics' });
    const moved = new Date(Date.now() + 10 * 86_400_000).toISOString();
    c = await api.patchGoal(supervisor, c.id, 'working_device_returned', { deadline_at: moved, reason: 'Replacement needs a week' });
    c = await api.reassign(supervisor, c.id, { owner_id: lead.userId, queue: 'repairs-leads', reason: 'Escalated after the rejection' });
    expect(c).toMatchObject({ owner_id: lead.userId, queue: 'repairs-leads', version: before + 3 });
    const entries = await stepEntries(before);
    expect(entries.map((e) => [e.type, e.actor.id, e.reason])).toEqual([
      ['goal.added', supervisor.userId, 'Track logistics'],
      ['goal.updated', supervisor.userId, 'Replacement needs a week'],
      ['case.reassigned', supervisor.userId, 'Escalated after the rejection'],
    ]);
    expect(entries[2]!.data).toEqual({ from: { ownerId: agent.userId, queue: 'repairs' }, to: { ownerId: lead.userId, queue: 'repairs-leads' } });
    const pending = (await rows.timers(c.id)).filter((x) => x.goal_key === 'working_device_returned' && x.status === 'pending');
    // Both SLA points re-armed for the moved deadline: the warning P3D before it, the breach at it.
    expect(pending.map((x) => new Date(x.due_at).toISOString()).sort()).toEqual([new Date(Date.parse(moved) - 3 * 86_400_000).toISOString(), moved]);
  });

  it('the replacement is delivered: every goal is achieved, but the case waits for its owner', async () => {
    await api.event(integrator, c.id, { type: 'REPLACEMENT_DELIVERED', data: { trackingNumber: 'RP-1' } });
    await refresh();
    expect(c.goals.every((g) => g.status === 'achieved')).toBe(true);
    expect(c.status).toBe('open');
    expect(c.fragments.every((f) => f.status === 'done')).toBe(true);
    expect(await rows.outboxTypes(c.id)).not.toContain('case.resolved');
    expect((await rows.timers(c.id)).filter((x) => x.status === 'pending')).toEqual([]);
  });

  it('only the owner (or a supervisor) closes: the former owner cannot, the new owner can', async () => {
    const before = await rows.snapshot(c.id);
    const refused = await api.call(agent, 'POST', `/v1/cases/${c.id}/close`, {});
    expect(refused.statusCode).toBe(404);
    expect(await rows.snapshot(c.id)).toEqual(before);

    c = await api.close(lead, c.id);
    expect(c).toMatchObject({ status: 'closed', version: before.version! + 1, close_reason: null });
    expect(c.closed_at).not.toBeNull();
    const outbox = await rows.outboxTypes(c.id);
    expect(outbox.at(-1)).toBe('case.closed');
    expect(outbox).not.toContain('case.resolved');
    const entries = await stepEntries(before.version!);
    expect(entries).toEqual([expect.objectContaining({ type: 'case.closed', actor: { id: lead.userId, role: 'agent' }, data: expect.objectContaining({ status: 'closed', unmetGoals: [] }) })]);
  });

  it('a closed case refuses events and a second close, writing nothing', async () => {
    const before = await rows.snapshot(c.id);
    const event = await api.call(integrator, 'POST', `/v1/cases/${c.id}/events`, { type: 'REPLACEMENT_DELIVERED', data: {} });
    expect(event.statusCode).toBe(409);
    expect(event.json().code).toBe('CASE_NOT_OPEN');
    const again = await api.call(lead, 'POST', `/v1/cases/${c.id}/close`, {});
    expect(again.statusCode).toBe(409);
    expect(await rows.snapshot(c.id)).toEqual(before);
    const journal = await api.timeline(supervisor, c.id);
    expect([...new Set(journal.map((e) => e.version))]).toEqual(Array.from({ length: c.version }, (_, i) => i + 1));
  });
});
