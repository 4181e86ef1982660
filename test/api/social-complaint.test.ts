/**
 * social-complaint end to end over HTTP on real Postgres: triage, public reply with approval,
 * integrator events and content, a discretionary fragment, an inline fragment, a checklist,
 * a migration of contact-customer to v2 (dry run first), reassignment, goals, auto resolution.
 * The steps run in order on one case; each asserts the state, the rows written and what must
 * not have happened.
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

/** Journal of the versions after `version`, read through GET timeline. */
async function stepEntries(version: number) {
  return entriesAfter(await api.timeline(supervisor, c.id), version);
}

describe('social-complaint, end to end', () => {
  it('opens a case as an agent: owner, goals with deadlines, default fragments and their tasks', async () => {
    const res = await api.call(agent, 'POST', '/v1/cases', {
      template: 'social-complaint',
      title: '@jane: "third broken kettle"',
      customer: { id: 'cust-42', handle: '@jane' },
      case_file: { post: { channel: 'x', url: 'https://x.com/jane/1', authorHandle: '@jane', text: 'Third broken kettle!', reach: 25000, sentiment: -0.8 } },
    });
    api.expectStatus(res, 201);
    c = res.json();
    expect(res.headers['etag']).toBe('"v1"');
    expect(res.headers['location']).toBe(`/v1/cases/${c.id}`);
    expect(c).toMatchObject({ status: 'open', version: 1, owner_id: agent.userId, queue: 'social-care', template: { key: 'social-complaint', version: 2 } });
    expect(c.goals.map((g) => [g.key, g.status, g.required])).toEqual([
      ['public_reply', 'open', true],
      ['customer_contacted', 'open', true],
      ['resolution_confirmed', 'open', true],
    ]);
    expect(c.goals.every((g) => g.deadline_at !== null)).toBe(true);
    expect(c.fragments.map((f) => [f.definition, f.states])).toEqual([
      ['social-triage@1', ['assessing']],
      ['public-reply@1', ['drafting']],
      ['contact-customer@1', ['reaching']],
    ]);
    expect(c.tasks.map((task) => task.title)).toEqual(['Triage the post', 'Draft the public reply', 'Contact the customer privately']);
    expect(c.tasks.every((task) => task.queue === 'social-care' && task.status === 'open')).toBe(true);
    expect(c.milestones).toEqual({});

    const journal = await api.timeline(agent, c.id);
    expect(journal[0]).toMatchObject({ version: 1, type: 'case.opened', actor: { id: agent.userId, role: 'agent' } });
    expect(journal.filter((e) => e.type === 'fragment.added')).toHaveLength(3);
    expect(journal.filter((e) => e.type === 'task.opened')).toHaveLength(3);
    expect(journal.every((e) => e.version === 1 && e.actor.id === agent.userId)).toBe(true);

    expect(await rows.outboxTypes(c.id)).toEqual(['case.opened', 'task.assigned', 'task.assigned', 'task.assigned']);
    const timers = await rows.timers(c.id);
    expect(timers.map((x) => [x.kind, x.goal_key, x.status]).sort()).toEqual([
      // breach and warning points for the goals with an SLA warnBefore
      ['goal_deadline', 'customer_contacted', 'pending'],
      ['goal_deadline', 'customer_contacted', 'pending'],
      ['goal_deadline', 'public_reply', 'pending'],
      ['goal_deadline', 'public_reply', 'pending'],
      ['goal_deadline', 'resolution_confirmed', 'pending'],
    ]);
    expect(await rows.tasks(c.id)).toHaveLength(3);
  });

  it('records a social post from an integrator as content (version 2)', async () => {
    const res = await api.call(integrator, 'POST', `/v1/cases/${c.id}/content`, {
      kind: 'social_post',
      data: { channel: 'x', post_id: 'x-1', author_handle: '@jane', text: 'Still waiting...', reach: 31000, sentiment: { score: -0.9, source: 'listening' } },
    });
    api.expectStatus(res, 201);
    expect(res.json().version).toBe(2);
    const content = api.expectStatus(await api.call(agent, 'GET', `/v1/cases/${c.id}/content`), 200).json();
    expect(content.items).toHaveLength(1);
    expect(content.items[0]).toMatchObject({ kind: 'social_post' });
    // The post changes the priority score (reach, computed sentiment): journaled with it, by the same actor.
    expect(await stepEntries(1)).toEqual([
      expect.objectContaining({ version: 2, type: 'content.added', actor: { id: integrator.userId, role: 'integrator' } }),
      expect.objectContaining({ version: 2, type: 'priority.changed', actor: { id: integrator.userId, role: 'integrator' } }),
    ]);
    expect((await rows.outboxTypes(c.id)).at(-1)).toBe('content.added');
    c = await api.get(agent, c.id);
  });

  it('triages the post: the task closes, the milestone is reached, nothing critical is emitted', async () => {
    const triage = fragmentOf(c, 'social-triage');
    const task = taskOf(c, triage.id, 'assessing');
    const outboxBefore = (await rows.outbox(c.id)).length;
    const done = await api.complete(agent, task.id, { severity: 'high', category: 'product', customerIdentified: true });
    expect(done).toMatchObject({ task: { id: task.id, status: 'closed' }, case_version: 3 });

    c = await api.get(agent, c.id);
    expect(fragmentOf(c, 'social-triage')).toMatchObject({ status: 'done', states: ['triaged'], accepted_events: [] });
    expect(c.tasks.find((x) => x.id === task.id)).toBeUndefined();
    expect(c.case_file.triage).toEqual({ severity: 'high', category: 'product' });
    expect(Object.keys(c.milestones)).toEqual(['triaged']);
    expect(c.priority.value).toBe('normal');

    const outbox = (await rows.outboxTypes(c.id)).slice(outboxBefore);
    expect(outbox).toEqual(['task.completed', 'milestone.reached', 'fragment.completed']);
    expect(outbox).not.toContain('complaint.critical');
    const taskRow = (await rows.tasks(c.id)).find((r) => r.id === task.id);
    expect(taskRow?.status).toBe('completed');
    const entries = await stepEntries(2);
    expect(entries.map((e) => e.type)).toEqual(['task.completed', 'case_file.assigned', 'case_file.assigned', 'milestone.reached', 'fragment.completed']);
    expect(entries.every((e) => e.actor.id === agent.userId && e.version === 3)).toBe(true);
  });

  it('drafts the reply; approval opens a supervisor task and arms the 15-minute reminder', async () => {
    const reply = fragmentOf(c, 'public-reply');
    await api.complete(agent, taskOf(c, reply.id, 'drafting').id, { text: 'Sorry Jane, we are on it — DM us?' });
    c = await api.get(agent, c.id);
    expect(fragmentOf(c, 'public-reply').states).toEqual(['awaitingApproval']);
    const approval = taskOf(c, reply.id, 'awaitingApproval');
    expect(approval).toMatchObject({ role: 'supervisor', title: 'Approve the public reply' });
    const reminder = (await rows.timers(c.id)).filter((x) => x.kind === 'fragment_delay');
    expect(reminder.map((x) => [x.fragment_id, x.status])).toEqual([[reply.id, 'pending']]);
    expect(c.case_file.publicReply).toEqual({ draft: 'Sorry Jane, we are on it — DM us?' });
  });

  it('the supervisor approves: the reminder is cancelled, publishing arms its own timer and emits reply.approved', async () => {
    const reply = fragmentOf(c, 'public-reply');
    const outboxBefore = (await rows.outbox(c.id)).length;
    await api.complete(supervisor, taskOf(c, reply.id, 'awaitingApproval').id, { decision: 'approve' });
    c = await api.get(agent, c.id);
    expect(fragmentOf(c, 'public-reply')).toMatchObject({ states: ['publishing'], accepted_events: ['REPLY_POSTED'] });
    expect(c.tasks.filter((x) => x.fragment_id === reply.id)).toEqual([]);
    const delays = (await rows.timers(c.id)).filter((x) => x.kind === 'fragment_delay');
    expect(delays.map((x) => x.status)).toEqual(['cancelled', 'pending']);
    const outbox = (await rows.outboxTypes(c.id)).slice(outboxBefore);
    expect(outbox).toEqual(['task.completed', 'reply.approved']);
    expect(outbox).not.toContain('reply.approval_overdue');
    expect(c.accepted_events).toContain('REPLY_POSTED');
  });

  it('the social integration reports REPLY_POSTED: the public_reply goal is achieved and its deadline timer cancelled', async () => {
    const before = c.version;
    const res = await api.call(integrator, 'POST', `/v1/cases/${c.id}/events`, { type: 'REPLY_POSTED', data: { url: 'https://x.com/brand/2' } });
    api.expectStatus(res, 200);
    expect(res.headers['etag']).toBe(`"v${before + 1}"`);
    c = await api.get(agent, c.id);
    expect(fragmentOf(c, 'public-reply')).toMatchObject({ status: 'done', states: ['published'] });
    expect(c.case_file.publicReply).toMatchObject({ status: 'published', url: 'https://x.com/brand/2' });
    expect(c.goals.find((g) => g.key === 'public_reply')).toMatchObject({ status: 'achieved' });
    expect(c.status).toBe('open');
    const timers = await rows.timers(c.id);
    expect(timers.filter((x) => x.kind === 'fragment_delay').map((x) => x.status)).toEqual(['cancelled', 'cancelled']);
    expect(timers.find((x) => x.goal_key === 'public_reply')?.status).toBe('cancelled');
    expect(timers.find((x) => x.goal_key === 'customer_contacted')?.status).toBe('pending');
    const entries = await stepEntries(before);
    expect(entries[0]).toMatchObject({ type: 'event.received', actor: { id: integrator.userId, role: 'integrator' }, data: { event: 'REPLY_POSTED' } });
    expect(entries.map((e) => e.type)).toContain('goal.achieved');
    const outbox = await rows.outboxTypes(c.id);
    expect(outbox).toEqual(expect.arrayContaining(['reply.published', 'goal.achieved']));
    expect(outbox).not.toContain('case.resolved');
  });

  it('adds goodwill-gesture from the planning table and grants a small gesture without approval', async () => {
    const before = c.version;
    c = await api.addFragment(agent, c.id, { ref: 'goodwill-gesture@1', reason: 'Third defect: offer a voucher' });
    const goodwill = fragmentOf(c, 'goodwill-gesture');
    expect(goodwill).toMatchObject({ status: 'active', states: ['proposing'] });
    const added = await stepEntries(before);
    expect(added[0]).toMatchObject({ type: 'fragment.added', reason: 'Third defect: offer a voucher', actor: { id: agent.userId }, data: { source: 'library', definition: 'goodwill-gesture@1' } });

    await api.complete(agent, taskOf(c, goodwill.id, 'proposing').id, { kind: 'voucher', value: 30, currency: 'EUR' });
    c = await api.get(agent, c.id);
    expect(fragmentOf(c, 'goodwill-gesture')).toMatchObject({ status: 'done', states: ['granted'] });
    expect(c.case_file.goodwill).toEqual({ kind: 'voucher', value: 30, currency: 'EUR', status: 'granted' });
    expect(c.milestones).toHaveProperty('goodwill_granted');
    // No supervisor approval below 50.
    const closed = (await rows.tasks(c.id)).filter((x) => x.fragment_id === goodwill.id);
    expect(closed.map((x) => x.title)).toEqual(['Propose a goodwill gesture']);
    expect(await rows.outboxTypes(c.id)).toContain('goodwill.granted');
  });

  it('authors an inline fragment with a task state and completes it', async () => {
    const before = c.version;
    c = await api.addFragment(agent, c.id, {
      reason: 'The customer asked for a call-back from the store manager',
      definition: {
        title: 'Store manager call-back',
        machine: {
          id: 'callback',
          initial: 'calling',
          states: {
            calling: {
              tags: ['task'],
              meta: {
                task: {
                  title: 'Call the customer back',
                  role: 'agent',
                  event: 'CALLED',
                  form: { type: 'object', required: ['outcome'], additionalProperties: false, properties: { outcome: { type: 'string', minLength: 1 } } },
                },
              },
              on: { CALLED: { target: 'done', actions: [{ type: 'assignCaseFile', params: { path: 'callback.outcome', fromEvent: 'data.outcome' } }] } },
            },
            done: { type: 'final', entry: [{ type: 'emit', params: { eventType: 'callback.done' } }] },
          },
        },
      },
    });
    const inline = c.fragments.find((f) => f.definition.startsWith('inline-'))!;
    expect(inline).toMatchObject({ title: 'Store manager call-back', status: 'active', states: ['calling'], definition: `inline-${inline.id}@1` });
    const stored = await t.database.db.selectFrom('definitions').select(['source', 'version']).where('key', '=', `inline-${inline.id}`).execute();
    expect(stored).toEqual([{ source: 'api', version: 1 }]);
    expect((await stepEntries(before))[0]).toMatchObject({ type: 'fragment.added', data: { source: 'inline' }, reason: 'The customer asked for a call-back from the store manager' });

    await api.complete(agent, taskOf(c, inline.id, 'calling').id, { outcome: 'Apologised, offered a store visit' });
    c = await api.get(agent, c.id);
    expect(c.fragments.find((f) => f.id === inline.id)).toMatchObject({ status: 'done', states: ['done'] });
    expect(c.case_file.callback).toEqual({ outcome: 'Apologised, offered a store visit' });
    expect(await rows.outboxTypes(c.id)).toContain('callback.done');
  });

  it('adds a checklist; each step is a task; completing both ends it', async () => {
    c = await api.addFragment(agent, c.id, { checklist: { title: 'CRM hygiene', steps: ['Link the post to the CRM profile', 'Tag the complaint category'] } });
    const checklist = c.fragments.find((f) => f.title === 'CRM hygiene')!;
    expect(checklist).toMatchObject({ status: 'active', states: ['step1'], definition: `checklist-${checklist.id}@1` });
    await api.complete(agent, taskOf(c, checklist.id, 'step1').id);
    c = await api.get(agent, c.id);
    expect(taskOf(c, checklist.id, 'step2').title).toBe('Tag the complaint category');
    await api.complete(agent, taskOf(c, checklist.id, 'step2').id);
    c = await api.get(agent, c.id);
    expect(c.fragments.find((f) => f.id === checklist.id)).toMatchObject({ status: 'done', states: ['done'] });
    expect(c.tasks.filter((x) => x.fragment_id === checklist.id)).toEqual([]);
  });

  it('a dry-run migration of contact-customer to v2 describes the change and writes nothing', async () => {
    const contact = fragmentOf(c, 'contact-customer');
    const before = await rows.snapshot(c.id);
    const res = await api.adapt(agent, c.id, contact.id, {
      action: 'migrate',
      to: 'contact-customer@2',
      state_mapping: { reaching: 'contacting' },
      reason: 'Adopt the v2 contact procedure',
      dry_run: true,
    });
    expect(res.result).toMatchObject({
      dry_run: true,
      from: { definition: 'contact-customer@1', states: ['reaching'] },
      to: { definition: 'contact-customer@2', states: ['contacting'], status: 'active' },
      tasks: { closed: [{ state_key: 'reaching' }], opened: [{ state_key: 'contacting' }] },
    });
    expect(res.case.version).toBe(before.version);
    expect(await rows.snapshot(c.id)).toEqual(before);
    expect(fragmentOf(await api.get(agent, c.id), 'contact-customer').definition).toBe('contact-customer@1');
  });

  it('migrates contact-customer to v2 mid-flight: the task in the old state is cancelled, one opens in the mapped state', async () => {
    const contact = fragmentOf(c, 'contact-customer');
    const oldTask = taskOf(c, contact.id, 'reaching');
    const before = c.version;
    const res = await api.adapt(agent, c.id, contact.id, {
      action: 'migrate',
      to: 'contact-customer@2',
      state_mapping: { reaching: 'contacting' },
      reason: 'Adopt the v2 contact procedure',
    });
    expect(res.case.version).toBe(before + 1);
    c = await api.get(agent, c.id);
    expect(fragmentOf(c, 'contact-customer')).toMatchObject({ id: contact.id, definition: 'contact-customer@2', states: ['contacting'], status: 'active' });
    const newTask = taskOf(c, contact.id, 'contacting');
    expect(newTask.id).not.toBe(oldTask.id);
    expect((await rows.tasks(c.id)).find((x) => x.id === oldTask.id)?.status).toBe('cancelled');
    const entries = await stepEntries(before);
    expect(entries[0]).toMatchObject({
      type: 'fragment.migrated',
      reason: 'Adopt the v2 contact procedure',
      actor: { id: agent.userId, role: 'agent' },
      data: { from: 'contact-customer@1', to: 'contact-customer@2', fromStates: ['reaching'], toStates: ['contacting'] },
    });
    expect(entries.map((e) => e.type)).toEqual(expect.arrayContaining(['task.cancelled', 'task.opened']));
    expect(entries.every((e) => e.reason === 'Adopt the v2 contact procedure')).toBe(true);
  });

  it('reassigns the case (owner) and a task (supervisor) to a colleague', async () => {
    const before = c.version;
    c = await api.reassign(agent, c.id, { owner_id: colleague.userId, reason: 'Jane prefers to talk to Sam' });
    expect(c).toMatchObject({ owner_id: colleague.userId, version: before + 1 });
    const contact = fragmentOf(c, 'contact-customer');
    const task = taskOf(c, contact.id, 'contacting');
    const res = await api.reassignTask(supervisor, task.id, { assignment: { user_id: colleague.userId }, reason: 'Sam owns the case now' });
    expect(res).toMatchObject({ task: { id: task.id, assignee_id: colleague.userId, status: 'open' }, case_version: before + 2 });
    const entries = await stepEntries(before);
    expect(entries.map((e) => [e.type, e.actor.id, e.reason])).toEqual([
      ['case.reassigned', agent.userId, 'Jane prefers to talk to Sam'],
      ['task.reassigned', supervisor.userId, 'Sam owns the case now'],
    ]);
    expect((await rows.tasks(c.id)).find((x) => x.id === task.id)?.assignee_id).toBe(colleague.userId);
    // The former owner no longer sees the case.
    api.expectStatus(await api.call(agent, 'GET', `/v1/cases/${c.id}`), 404);
    c = await api.get(colleague, c.id);
  });

  it('the supervisor adds a goal and moves a deadline (reason journaled, the old deadline timer cancelled)', async () => {
    const before = c.version;
    c = await api.addGoal(supervisor, c.id, {
      key: 'callback_done',
      title: 'Manager called back',
      condition: "has(caseFile.callback) && has(caseFile.callback.outcome)",
      reason: 'Track the manager call-back',
    });
    // The condition already holds: achieved in the same command, no deadline timer.
    expect(c.goals.find((g) => g.key === 'callback_done')).toMatchObject({ status: 'achieved', ad_hoc: true, required: false });

    const oldTimer = (await rows.timers(c.id)).find((x) => x.goal_key === 'resolution_confirmed' && x.status === 'pending')!;
    const deadline = new Date(Date.now() + 5 * 86_400_000).toISOString();
    c = await api.patchGoal(supervisor, c.id, 'resolution_confirmed', { deadline_at: deadline, reason: 'Customer travels until Friday' });
    expect(c.goals.find((g) => g.key === 'resolution_confirmed')?.deadline_at).toBe(deadline);
    const timers = (await rows.timers(c.id)).filter((x) => x.goal_key === 'resolution_confirmed');
    expect(timers.find((x) => x.id === oldTimer.id)?.status).toBe('cancelled');
    const pending = timers.filter((x) => x.status === 'pending');
    expect(pending).toHaveLength(1);
    expect(new Date(pending[0]!.due_at).toISOString()).toBe(deadline);

    const entries = await stepEntries(before);
    expect(entries.map((e) => [e.type, e.actor.id, e.reason])).toEqual([
      ['goal.added', supervisor.userId, 'Track the manager call-back'],
      ['goal.achieved', supervisor.userId, 'Track the manager call-back'],
      ['goal.updated', supervisor.userId, 'Customer travels until Friday'],
    ]);
  });

  it('reaching the customer and agreeing a resolution resolves the case automatically', async () => {
    const contact = fragmentOf(c, 'contact-customer');
    await api.complete(colleague, taskOf(c, contact.id, 'contacting').id, { channel: 'phone', reached: true, followUpConsent: true, summary: 'Called' });
    c = await api.get(colleague, c.id);
    expect(c.goals.find((g) => g.key === 'customer_contacted')?.status).toBe('achieved');
    expect(c.status).toBe('open');
    const before = c.version;
    await api.complete(colleague, taskOf(c, contact.id, 'resolving').id, { resolution: 'New kettle and a voucher', customerAccepted: true });
    c = await api.get(colleague, c.id);
    expect(c).toMatchObject({ status: 'resolved', version: before + 1, tasks: [], accepted_events: [] });
    expect(c.goals.filter((g) => g.required).every((g) => g.status === 'achieved')).toBe(true);
    expect(c.fragments.every((f) => f.status === 'done')).toBe(true);
    const timers = await rows.timers(c.id);
    expect(timers.filter((x) => x.status === 'pending')).toEqual([]);
    expect(timers.filter((x) => x.status === 'fired')).toEqual([]);
    const outbox = await rows.outboxTypes(c.id);
    expect(outbox.at(-1)).toBe('case.resolved');
    expect(outbox.filter((x) => x === 'case.resolved')).toHaveLength(1);
    expect(outbox).toContain('resolution.confirmed');
    expect((await rows.tasks(c.id)).filter((x) => x.status === 'open')).toEqual([]);
    const entries = await stepEntries(before);
    expect(entries.at(-1)).toMatchObject({ type: 'case.resolved', actor: { id: colleague.userId } });
  });

  it('a resolved case refuses further events and changes nothing', async () => {
    const before = await rows.snapshot(c.id);
    const res = await api.call(integrator, 'POST', `/v1/cases/${c.id}/events`, { type: 'REPLY_POSTED', data: { url: 'https://x.com/x' } });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'CASE_NOT_OPEN' });
    expect(await rows.snapshot(c.id)).toEqual(before);
  });

  it('journals every step with an actor, and the version equals the number of commands applied', async () => {
    const journal = await api.timeline(supervisor, c.id);
    const versions = [...new Set(journal.map((e) => e.version))];
    expect(versions).toEqual(Array.from({ length: c.version }, (_, i) => i + 1));
    expect(journal.every((e) => e.actor.id.length > 0 && e.actor.role.length > 0)).toBe(true);
    expect(await rows.version(c.id)).toBe(c.version);
  });
});
