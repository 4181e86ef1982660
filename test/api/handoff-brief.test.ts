/**
 * The handoff brief on reassignment: stored on the case, shown in GET /v1/cases/:id, carried by
 * the outbound task.assigned / case.reassigned events — and every claim it makes checked
 * against the journal and the case.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHandoffBrief } from '../../src/cases/handoff-brief.js';
import type { CaseState, HandoffInput } from '../../src/cases/types.js';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, type TimelineEntry } from '../support/case-api.js';
import { updateWorker } from '../support/people.js';
import { startTestApp, uniqueId } from '../support/platform.js';
import { openCaseWithTasks, parallelTasks } from '../support/work-fixtures.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let rows: ReturnType<typeof caseRows>;
let supervisor: Actor;
let integrator: Actor;

beforeAll(async () => {
  t = await startTestApp();
  api = caseApi(t);
  rows = caseRows(t);
  supervisor = await createActor(t.database.db, 'supervisor');
  integrator = await createActor(t.database.db, 'integrator');
});
afterAll(() => t.close());

/** The brief's journal claims, recomputed from the timeline. */
function expectBriefMatchesJournal(brief: any, timeline: TimelineEntry[]) {
  const covered = timeline.filter((e) => e.version > brief.since_version && e.version < brief.at_version);
  expect(brief.since_last_handoff.entries).toBe(covered.length);
  const byType: Record<string, number> = {};
  for (const e of covered) byType[e.type] = (byType[e.type] ?? 0) + 1;
  expect(brief.since_last_handoff.by_type).toEqual(byType);
  for (const h of brief.since_last_handoff.highlights) {
    const entry = covered.find((e) => e.version === h.version && e.type === h.type);
    expect(entry, `highlight ${h.type}@v${h.version}`).toBeDefined();
    expect(h.actor_id).toBe(entry!.actor.id);
  }
}

describe('handoff brief', () => {
  it('appears on case reassignment with the facts it claims, and again on a task handoff covering only what happened since', async () => {
    const team = uniqueId('brief');
    const c = await openCaseWithTasks(api, supervisor, [{ title: 'Call the customer', queue: team }]);
    await api.addContent(integrator, c.id, {
      kind: 'social_post',
      data: { channel: 'x', post_id: uniqueId('post'), author_handle: '@jane', text: 'Still waiting for my refund', reach: 31000, sentiment: { score: -0.9 } },
    });
    await api.addContent(integrator, c.id, { kind: 'crm_profile', data: { lifetime_value: 4200, segment: 'gold', churn_risk: 0.4 } });
    await api.addContent(supervisor, c.id, { kind: 'note', data: { text: 'customer prefers e-mail' } });

    const newOwner = await createActor(t.database.db, 'agent', uniqueId('owner'), [team]);
    const reassigned = await api.reassign(supervisor, c.id, { owner_id: newOwner.userId, reason: 'shift change' });
    const brief = (await api.get(supervisor, c.id) as any).handoff_brief;
    expect(brief).toEqual((reassigned as any).handoff_brief);
    expect(brief).toMatchObject({ at_version: reassigned.version, since_version: 0, handoff: { kind: 'case', to: { user_id: newOwner.userId }, by: supervisor.userId } });

    const timeline = await api.timeline(supervisor, c.id);
    expectBriefMatchesJournal(brief, timeline);
    expect(brief.since_last_handoff.by_type['content.added']).toBe(3);
    // Goals and tasks are the case's own.
    const view = await api.get(supervisor, c.id);
    expect(brief.open_goals.map((g: any) => g.key).sort()).toEqual(view.goals.filter((g) => g.status === 'open').map((g) => g.key).sort());
    for (const g of brief.open_goals) {
      const goal = view.goals.find((x) => x.key === g.key)!;
      expect(g.deadline_at ?? null).toBe(goal.deadline_at);
      expect(g.sla ?? null).toBe((goal as unknown as { sla: string | null }).sla);
    }
    expect(brief.pending_tasks.map((x: any) => x.id).sort()).toEqual(view.tasks.map((x) => x.id).sort());
    // The customer facts come from the case's latest social post and CRM profile (no customer aggregate here).
    const content = api.expectStatus(await api.call(supervisor, 'GET', `/v1/cases/${c.id}/content`), 200).json().items;
    const post = content.find((x: any) => x.kind === 'social_post');
    expect(brief.last_customer_contact).toEqual({ at: post.added_at, channel: 'x', summary: 'Still waiting for my refund', source: 'case_content' });
    // Mood is the sentiment Tessera computed for the post (the sender's own -0.9 is second choice).
    expect(post.analysis.sentiment.score).toBeLessThan(0);
    expect(brief.customer).toEqual({
      source: 'case_content',
      value: { lifetime_value: 4200, segment: 'gold', churn_risk: 0.4 },
      mood: { sentiment: post.analysis.sentiment.score, label: expect.stringMatching(/negative|neutral/), at: post.added_at },
    });
    // Carried by the case.reassigned event (camelCase like every payload).
    const event = (await rows.outbox(c.id)).find((e) => e.type === 'case.reassigned')!;
    expect((event.data as any).handoffBrief).toMatchObject({ atVersion: brief.at_version, sinceLastHandoff: { entries: brief.since_last_handoff.entries } });

    // A task handoff later: the brief covers only the entries after the case handoff.
    await api.addContent(supervisor, c.id, { kind: 'note', data: { text: 'tried calling, no answer' } });
    const taker = await createActor(t.database.db, 'agent', uniqueId('taker'), [team]);
    await updateWorker(t.database.db, taker.userId, { presence: 'available' });
    const pulled = api.expectStatus(await api.call(taker, 'POST', '/v1/tasks/next'), 200).json();
    expect(pulled.task.title).toBe('Call the customer');
    const second = pulled.handoff_brief;
    expect(second).toMatchObject({ since_version: brief.at_version, handoff: { kind: 'task', task_id: pulled.task.id, to: { user_id: taker.userId } } });
    expectBriefMatchesJournal(second, await api.timeline(supervisor, c.id));
    expect(second.since_last_handoff.entries).toBe(1);
    expect(second.since_last_handoff.highlights).toEqual([expect.objectContaining({ type: 'content.added', actor_id: supervisor.userId })]);
    const assigned = (await rows.outbox(c.id)).filter((e) => e.type === 'task.assigned').at(-1)!;
    expect((assigned.data as any).handoffBrief).toMatchObject({ sinceVersion: brief.at_version, atVersion: second.at_version });
  });

  it("takes the customer's value from the customer aggregate when the case has a customer", async () => {
    const team = uniqueId('brief-cust');
    const email = `${uniqueId('vip')}@brief.example`;
    const made = api.expectStatus(
      await api.call(supervisor, 'POST', '/v1/customers', {
        name: 'Vera',
        segment: 'platinum',
        identities: [{ kind: 'email', value: email }],
        metrics: {
          lifetime_value: { value: 98000, as_of: '2026-01-01T00:00:00Z', source: 'crm' },
          churn_risk: { value: 0.7, as_of: '2026-01-01T00:00:00Z', source: 'crm' },
        },
      }),
      201,
    ).json();
    const opened = await api.open(supervisor, { template: 'billing-dispute', title: 'Vera disputes', customer: { email }, case_file: { account: { id: 'acc-v' } } });
    expect((opened as any).customer).toMatchObject({ id: made.id });
    await api.addFragment(supervisor, opened.id, { definition: { title: 'Work', machine: parallelTasks('work', [{ title: 'Call Vera', queue: team }]) } });
    await api.addContent(integrator, opened.id, {
      kind: 'social_post',
      data: { channel: 'x', post_id: uniqueId('post'), author_handle: '@vera', text: 'Charged twice, this is a scam. Furious.' },
    });
    const newOwner = await createActor(t.database.db, 'agent', uniqueId('owner'), [team]);
    const reassigned = await api.reassign(supervisor, opened.id, { owner_id: newOwner.userId, reason: 'VIP desk' });
    const brief = (reassigned as any).handoff_brief;
    const post = api.expectStatus(await api.call(supervisor, 'GET', `/v1/cases/${opened.id}/content`), 200).json().items.find((x: any) => x.kind === 'social_post');
    expect(brief.customer).toEqual({
      source: 'customer',
      value: { lifetime_value: 98000, segment: 'platinum', churn_risk: 0.7 },
      mood: { sentiment: post.analysis.sentiment.score, label: 'negative', at: post.added_at },
    });
    expect(post.analysis.sentiment.score).toBeLessThan(-0.2);
  });

  it('is deterministic: the same case, input and time give the same brief', () => {
    const state = {
      id: 'c1', template: { key: 'x', version: 1 }, title: 'T', status: 'open', priority: 'normal', externalRefs: {}, caseFile: {}, milestones: {},
      goals: [{ key: 'g', title: 'G', condition: 'true', required: true, status: 'open', deadlineAt: '2026-01-02T00:00:00.000Z', sla: 'at_risk' }],
      fragments: [], tasks: [], version: 3, openedAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z',
    } as unknown as CaseState;
    const input: HandoffInput = {
      journal: [{ version: 1, type: 'case.opened', actor: { id: 'ana', role: 'agent' }, data: {}, at: '2026-01-01T00:00:00.000Z' }],
      journalTotal: 1,
      latestContent: [],
    };
    const request = { case: state, atVersion: 4, now: '2026-01-01T01:00:00.000Z', handoff: { kind: 'case' as const, to: { userId: 'bo' }, by: 'sam' }, input };
    expect(JSON.stringify(buildHandoffBrief(request))).toBe(JSON.stringify(buildHandoffBrief(structuredClone(request))));
    expect(buildHandoffBrief(request)).toMatchObject({ sinceLastHandoff: { entries: 1 }, openGoals: [{ key: 'g', sla: 'at_risk' }], customer: null, lastCustomerContact: null });
  });
});
