/**
 * Typed content, post history, sentiment, priority and reach escalation over HTTP on real
 * Postgres: the rows written (content, content_revisions, journal, outbox) and what must not
 * be written (a refused post; an update below the next threshold; a recompute that changes nothing).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyCustomerCommand } from '../../src/commands/apply-customer-command.js';
import { recomputeCustomerPriority } from '../../src/commands/recompute-customer-priority.js';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, type CaseView } from '../support/case-api.js';
import { startTestApp } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let rows: ReturnType<typeof caseRows>;
let agent: Actor;
let supervisor: Actor;
let integrator: Actor;

beforeAll(async () => {
  t = await startTestApp();
  api = caseApi(t);
  rows = caseRows(t);
  agent = await createActor(t.database.db, 'agent');
  supervisor = await createActor(t.database.db, 'supervisor');
  integrator = await createActor(t.database.db, 'integrator');
});
afterAll(() => t.close());

let seq = 0;
async function openCase(customerId?: string): Promise<CaseView> {
  seq += 1;
  return api.open(supervisor, {
    template: 'social-complaint',
    title: `complaint ${seq}`,
    ...(customerId ? { customer: { id: customerId } } : {}),
  });
}

const postContent = (caseId: string, data: Record<string, unknown>) => api.call(integrator, 'POST', `/v1/cases/${caseId}/content`, { kind: 'social_post', data });

async function customerWithValues(lifetime: number, referral: number): Promise<string> {
  const at = new Date().toISOString();
  const r = await t.database.db.transaction().execute((trx) =>
    applyCustomerCommand(trx, {
      command: {
        type: 'customer.create',
        input: {
          profile: { name: `Customer ${lifetime}` },
          metrics: { lifetimeValue: { value: lifetime, asOf: at, source: 'crm' }, referralValue: { value: referral, asOf: at, source: 'crm' } },
        },
      },
      actor: { id: 'crm', role: 'system' },
    }),
  );
  return r.customer.id;
}

async function setLifetimeValue(customerId: string, value: number) {
  await t.database.db.transaction().execute((trx) =>
    applyCustomerCommand(trx, {
      customerId,
      command: { type: 'customer.update', metrics: { lifetimeValue: { value, asOf: new Date().toISOString(), source: 'crm' } } },
      actor: { id: 'crm', role: 'system' },
    }),
  );
}

describe('typed content', () => {
  it.each([
    ['channel', { channel: 'X Twitter' }, '/data/channel'],
    ['post identity', { post_id: undefined, url: undefined }, '/data/post_id'],
    ['post_id', { post_id: '' }, '/data/post_id'],
    ['url', { url: 'not a url' }, '/data/url'],
    ['author_handle', { author_handle: 7 }, '/data/author_handle'],
    ['text', { text: 'x'.repeat(10001) }, '/data/text'],
    ['posted_at', { posted_at: 'yesterday' }, '/data/posted_at'],
    ['followers', { followers: -1 }, '/data/followers'],
    ['engagements', { engagements: 1.5 }, '/data/engagements'],
    ['reach', { reach: 'lots' }, '/data/reach'],
    ['sentiment (a bare number)', { sentiment: -0.9 }, '/data/sentiment'],
    ['sentiment.score', { sentiment: { score: 2 } }, '/data/sentiment/score'],
    ['sentiment.label', { sentiment: { score: 0.1, label: 'meh' } }, '/data/sentiment/label'],
    ['sentiment.source', { sentiment: { score: 0.1, source: '' } }, '/data/sentiment/source'],
    ['an unknown field', { colour: 'red' }, '/data/colour'],
    ['extra (not an object)', { extra: 'x' }, '/data/extra'],
  ])('social_post %s: 422 naming %s, nothing written', async (_what, change, pointer) => {
    const c = await openCase();
    const before = await rows.snapshot(c.id);
    const data: Record<string, unknown> = { channel: 'x', post_id: 'p1', reach: 10, ...change };
    for (const [k, v] of Object.entries(data)) if (v === undefined) delete data[k];
    const res = await postContent(c.id, data);
    expect(res.statusCode, res.body).toBe(422);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    const problem = res.json();
    expect(problem.code).toBe('CONTENT_INVALID');
    expect(problem.errors).toEqual(expect.arrayContaining([expect.objectContaining({ pointer, in: 'body', detail: expect.any(String) })]));
    expect(problem.detail).toContain(pointer);
    expect(await rows.snapshot(c.id)).toEqual(before);
    expect(await rows.version(c.id)).toBe(c.version);
  });

  it.each([
    ['crm_profile', { lifetime_value: -3 }, '/data/lifetime_value'],
    ['crm_profile', { referral_value: 'high' }, '/data/referral_value'],
    ['crm_profile', { churn_risk: 1.2 }, '/data/churn_risk'],
    ['crm_profile', { segment: '' }, '/data/segment'],
    ['crm_profile', { tier: 3 }, '/data/tier'],
    ['crm_profile', { as_of: '2026-13-01' }, '/data/as_of'],
    ['crm_profile', { source: '' }, '/data/source'],
    ['crm_profile', {}, '/data'],
    ['note', { text: '' }, '/data/text'],
    ['note', { text: 'hi', visibility: 'everyone' }, '/data/visibility'],
    ['note', {}, '/data/text'],
    ['attachment', { name: 'a.pdf', media_type: 'application/pdf', url: 'http://files.example.com/a.pdf' }, '/data/url'],
    ['attachment', { name: 'a.pdf', media_type: 'pdf', url: 'https://files.example.com/a.pdf' }, '/data/media_type'],
    ['attachment', { name: 'a.pdf', media_type: 'application/pdf', url: 'https://files.example.com/a.pdf', size: -1 }, '/data/size'],
    ['attachment', { name: 'a.pdf', media_type: 'application/pdf', url: 'https://files.example.com/a.pdf', sha256: 'abc' }, '/data/sha256'],
    ['attachment', { media_type: 'application/pdf', url: 'https://files.example.com/a.pdf' }, '/data/name'],
  ])('%s %j: 422 naming %s, nothing written', async (kind, data, pointer) => {
    const c = await openCase();
    const before = await rows.snapshot(c.id);
    const res = await api.call(integrator, 'POST', `/v1/cases/${c.id}/content`, { kind, data });
    expect(res.statusCode).toBe(422);
    expect(res.json().errors).toEqual(expect.arrayContaining([expect.objectContaining({ pointer })]));
    expect(await rows.snapshot(c.id)).toEqual(before);
  });

  it('good content of each kind is stored as sent', async () => {
    const c = await openCase();
    for (const [kind, data] of [
      ['note', { text: 'Called, left a message', visibility: 'internal' }],
      ['attachment', { name: 'receipt.pdf', media_type: 'application/pdf', url: 'https://files.example.com/r.pdf', size: 1200, sha256: 'a'.repeat(64) }],
      ['crm_profile', { lifetime_value: 1200, referral_value: 300, churn_risk: 0.2, segment: 'vip', tier: 'gold', as_of: '2026-11-01T00:00:00Z', source: 'crm', extra: { id: 'C-1' } }],
    ] as const) {
      api.expectStatus(await api.call(integrator, 'POST', `/v1/cases/${c.id}/content`, { kind, data }), 201);
    }
    const stored = await t.database.db.selectFrom('content').select(['kind', 'data']).where('case_id', '=', c.id).orderBy('added_at').execute();
    expect(stored.map((r) => r.kind)).toEqual(['note', 'attachment', 'crm_profile']);
  });
});

describe('posts, sentiment and history', () => {
  it('stores the computed sentiment with the model id beside the provided one; an update keeps every revision', async () => {
    const c = await openCase();
    const first = api.expectStatus(
      await postContent(c.id, { channel: 'x', post_id: 'h1', author_handle: '@jane', text: 'Third outage this week. Not happy!', followers: 800, reach: 1200, engagements: 20, sentiment: { score: 0.1, source: 'listening' } }),
      201,
    ).json();
    expect(first.content).toMatchObject({ updated: false, revision: 1, analysis: { sentiment: { label: 'negative', model: 'wink-eng-lite-web-model@1.8.1+care-lexicon@1' } } });
    const contentId = first.content.id;
    const second = api.expectStatus(await postContent(c.id, { channel: 'x', post_id: 'h1', reach: 5400, engagements: 90 }), 201).json();
    expect(second.content).toMatchObject({ id: contentId, updated: true, revision: 2, analysis: null });
    expect(second.posts).toEqual([expect.objectContaining({ content_id: contentId, reach: 5400, engagements: 90, followers: 800, revision: 2, sentiment: expect.objectContaining({ source: 'computed' }) })]);

    const [row] = await t.database.db.selectFrom('content').selectAll().where('case_id', '=', c.id).execute();
    expect(row).toMatchObject({ id: contentId, revision: 2 });
    // The row holds the latest of every field; what the sender gave stays beside what Tessera computed.
    expect(row!.data).toMatchObject({ channel: 'x', post_id: 'h1', text: 'Third outage this week. Not happy!', reach: 5400, engagements: 90, sentiment: { score: 0.1, source: 'listening' } });
    expect(row!.analysis).toMatchObject({ sentiment: { label: 'negative', model: expect.stringMatching(/^wink-eng-lite-web-model@/) } });
    const history = api.expectStatus(await api.call(supervisor, 'GET', `/v1/cases/${c.id}/content/${contentId}/revisions`), 200).json().items;
    expect(history.map((h: { revision: number; data: { reach: number } }) => [h.revision, h.data.reach])).toEqual([[1, 1200], [2, 5400]]);
    expect(history[0].analysis.sentiment.label).toBe('negative');
    const journal = (await rows.journal(c.id)).map((e) => e.type);
    expect(journal.filter((x) => x === 'content.added')).toHaveLength(1);
    expect(journal.filter((x) => x === 'content.updated')).toHaveLength(1);
    expect(await rows.outboxTypes(c.id)).toEqual(expect.arrayContaining(['content.added', 'content.updated']));
    api.expectStatus(await api.call(supervisor, 'GET', `/v1/cases/${c.id}/content/nope/revisions`), 404);
  });
});

describe('priority', () => {
  it('shows the score, the priority and each factor in the case view; a negative post from a valuable customer raises it', async () => {
    await customerWithValues(10, 5);
    await customerWithValues(100, 50);
    // Below the customers test's 10,000,000 (files share the run's database, and percentiles are over all customers).
    const vip = await customerWithValues(9_000_000, 2_000_000);
    const c = await openCase(vip);
    expect(c.priority).toMatchObject({ value: 'normal', computed: 'normal', floor: 'low', overridden_by: null });
    const sum = c.priority.factors.reduce((s, f) => s + f.contribution, 0);
    expect(sum).toBeCloseTo(c.priority.score!, 6);
    const clv = c.priority.factors.find((f) => f.name === 'lifetime_value')!;
    expect(clv.value).toBeGreaterThan(0.5);
    expect(clv.explanation).toMatch(/percentile of customers/);

    const after = api.expectStatus(await postContent(c.id, { channel: 'x', post_id: 'v1', author_handle: '@vip', text: 'Overcharged AGAIN, refund still missing, this is a scam. Unacceptable! 😡', followers: 250000, reach: 45000 }), 201).json();
    expect(after.priority.value).toBe('urgent');
    expect(after.priority.factors.find((f: { name: string }) => f.name === 'sentiment').contribution).toBeGreaterThan(0);
    const changed = (await rows.journal(c.id)).filter((e) => e.type === 'priority.changed');
    expect(changed).toHaveLength(1);
    expect(changed[0]!.data).toMatchObject({ trigger: 'content.added', from: { priority: 'normal' }, to: { priority: 'urgent' } });
    const events = (await rows.outbox(c.id)).filter((o) => o.type === 'case.priority_changed');
    expect(events.map((o) => o.data)).toEqual([expect.objectContaining({ caseId: c.id, from: 'normal', to: 'urgent' })]);
    // The list filter reads the effective priority.
    const listed = api.expectStatus(await api.call(supervisor, 'GET', `/v1/cases?priority=urgent&customer_id=${vip}`), 200).json();
    expect(listed.items.map((x: { id: string }) => x.id)).toEqual([c.id]);
  });

  it('recomputes on a post update, and when the customer metrics change; journaled only when it changes', async () => {
    const customer = await customerWithValues(1, 1);
    const c = await openCase(customer);
    api.expectStatus(await postContent(c.id, { channel: 'x', post_id: 'r1', text: 'My order arrived today.', reach: 10 }), 201);
    const v1 = await rows.version(c.id);
    const countChanged = async () => (await rows.journal(c.id)).filter((e) => e.type === 'priority.changed').length;
    const changedBefore = await countChanged();
    // Same customer values: nothing changes, nothing is written.
    expect(await recomputeCustomerPriority({ db: t.database.db, runner: t.core.runner }, customer)).toEqual([{ caseId: c.id, changed: false, priority: expect.any(String) }]);
    expect(await rows.version(c.id)).toBe(v1);
    expect(await countChanged()).toBe(changedBefore);
    // The reach grows: the score follows.
    const updated = api.expectStatus(await postContent(c.id, { channel: 'x', post_id: 'r1', reach: 40000 }), 201).json();
    expect(await countChanged()).toBe(changedBefore + 1);
    expect(updated.priority.factors.find((f: { name: string }) => f.name === 'reach').value).toBeGreaterThan(0.7);
    // The customer becomes the most valuable one: recomputed for their open cases.
    await setLifetimeValue(customer, 9_500_000);
    const result = await recomputeCustomerPriority({ db: t.database.db, runner: t.core.runner }, customer);
    expect(result).toEqual([{ caseId: c.id, changed: true, priority: expect.any(String) }]);
    const seen = await api.get(supervisor, c.id);
    expect(seen.priority.factors.find((f) => f.name === 'lifetime_value')!.value).toBeGreaterThan(updated.priority.factors.find((f: { name: string }) => f.name === 'lifetime_value').value);
    expect(await countChanged()).toBe(changedBefore + 2);
  });

  it("a supervisor's override holds through recomputation until lifted", async () => {
    const c = await openCase();
    api.expectStatus(await api.call(agent, 'POST', `/v1/cases/${c.id}/priority`, { priority: 'low', reason: 'troll' }), 403);
    const bad = await api.call(supervisor, 'POST', `/v1/cases/${c.id}/priority`, { priority: 'asap', reason: 'x' });
    expect(bad.statusCode).toBe(400);
    const o = api.expectStatus(await api.call(supervisor, 'POST', `/v1/cases/${c.id}/priority`, { priority: 'low', reason: 'known troll account' }), 200).json();
    expect(o.priority).toMatchObject({ value: 'low', overridden_by: { user_id: supervisor.userId, priority: 'low', reason: 'known troll account' } });
    const after = api.expectStatus(await postContent(c.id, { channel: 'x', post_id: 'o1', text: 'WORST SERVICE EVER 😡 total scam', reach: 200000, followers: 90000 }), 201).json();
    expect(after.priority.value).toBe('low');
    expect(after.priority.computed).toBe('high');
    // The post crossed reach 50,000: the escalation ran (and raised the floor), the override still holds.
    expect(after.priority.escalations_crossed).toEqual(['reach>=50000']);
    expect(after.priority.floor).toBe('high');
    expect(after.priority.score).toBeGreaterThan(o.priority.score);
    // Sent when the override lowered it, not when the recomputation moved the score underneath.
    expect((await rows.outbox(c.id)).filter((r) => r.type === 'case.priority_changed').map((r) => (r.data as { to: string }).to)).toEqual(['low']);
    const lifted = api.expectStatus(await api.call(supervisor, 'DELETE', `/v1/cases/${c.id}/priority`, { reason: 'it is real' }), 200).json();
    expect(lifted.priority).toMatchObject({ value: 'high', overridden_by: null });
    const again = await api.call(supervisor, 'DELETE', `/v1/cases/${c.id}/priority`, {});
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('PRIORITY_NOT_OVERRIDDEN');
    const types = (await rows.journal(c.id)).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['priority.overridden', 'priority.override_lifted']));
  });
});

describe('reach escalation', () => {
  it('escalates once per threshold crossed, with outbox rows; an update below the next threshold does not escalate again', async () => {
    const c = await openCase();
    api.expectStatus(await postContent(c.id, { channel: 'x', post_id: 'e1', reach: 20000 }), 201);
    expect(await rows.outboxTypes(c.id)).not.toContain('case.escalated');
    const crossed = api.expectStatus(await postContent(c.id, { channel: 'x', post_id: 'e1', reach: 60000 }), 201).json();
    expect(crossed.priority).toMatchObject({ escalations_crossed: ['reach>=50000'] });
    expect(['high', 'urgent']).toContain(crossed.priority.value);
    expect(crossed.queue).toBe('social-care-leads');
    const escalated = (await rows.outbox(c.id)).filter((r) => r.type === 'case.escalated');
    expect(escalated.map((r) => r.data)).toEqual([
      expect.objectContaining({ caseId: c.id, threshold: 'reach>=50000', metric: 'reach', value: 60000, notify: [{ role: 'supervisor' }] }),
    ]);
    const journalEscalations = async () => (await rows.journal(c.id)).filter((e) => e.type === 'case.escalated');
    expect(await journalEscalations()).toHaveLength(1);
    expect((await journalEscalations())[0]).toMatchObject({ actor_id: 'escalation', actor_role: 'system' });

    // Below the next threshold (500,000): no second escalation.
    const below = api.expectStatus(await postContent(c.id, { channel: 'x', post_id: 'e1', reach: 300000 }), 201).json();
    expect(below.priority.escalations_crossed).toEqual(['reach>=50000']);
    expect((await rows.outbox(c.id)).filter((r) => r.type === 'case.escalated')).toHaveLength(1);
    expect(await journalEscalations()).toHaveLength(1);

    // Crossing the next one: once more, and the PR fragment starts.
    const next = api.expectStatus(await postContent(c.id, { channel: 'x', post_id: 'e1', reach: 750000 }), 201).json();
    expect(next.priority).toMatchObject({ value: 'urgent', escalations_crossed: ['reach>=50000', 'reach>=500000'] });
    expect(next.fragments.filter((f: { definition: string }) => f.definition === 'escalate-to-pr@1')).toHaveLength(1);
    expect((await rows.outbox(c.id)).filter((r) => r.type === 'case.escalated')).toHaveLength(2);
  });

  it('the catalog and OpenAPI list case.priority_changed and case.escalated', async () => {
    const types = api.expectStatus(await api.call(integrator, 'GET', '/v1/event-types'), 200).json();
    const names = (Array.isArray(types) ? types : types.items).map((e: { type: string }) => e.type);
    expect(names).toEqual(expect.arrayContaining(['case.priority_changed', 'case.escalated', 'content.updated']));
    const openapi = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(openapi.webhooks)).toEqual(expect.arrayContaining(['case.priority_changed', 'case.escalated']));
  });
});
