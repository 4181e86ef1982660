/**
 * /v1/customers end to end (app.inject, real Postgres and Redis): create and upsert with an
 * Idempotency-Key, the 360, identities claimed twice (409, nothing written), malformed activity
 * (422 with pointers, nothing written), merge (identities, external ids, activity and cases move;
 * journal on both customers and on the cases), a case opened with an identity finds its customer,
 * the case view's customer summary, a guard and a goal reading `customer`, and the role rules.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, expectProblem, type CaseView as BaseCaseView } from '../support/case-api.js';

type CaseView = BaseCaseView & { customer: { id: string; handle?: string } | null };
import { startTestApp } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let api: { open: (a: Actor, b: Record<string, unknown>) => Promise<CaseView>; get: (a: Actor, id: string) => Promise<CaseView> };
let supervisor: Actor;
let integrator: Actor;
let agent: Actor;
let otherAgent: Actor;

beforeAll(async () => {
  t = await startTestApp();
  api = caseApi(t) as unknown as typeof api;
  supervisor = await createActor(t.database.db, 'supervisor');
  integrator = await createActor(t.database.db, 'integrator');
  agent = await createActor(t.database.db, 'agent');
  otherAgent = await createActor(t.database.db, 'agent');
});
afterAll(() => t.close());

const tag = () => randomUUID().slice(0, 8);

function call(actor: Actor, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = {}) {
  return t.app.inject({
    method,
    url,
    headers: { ...actor.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
}

const db = () => t.database.db;
const count = async (table: 'customers' | 'customer_identities' | 'customer_journal' | 'customer_activity' | 'outbox') =>
  (await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(db())).rows[0]!.n;
const snapshot = async () => ({
  customers: await count('customers'),
  identities: await count('customer_identities'),
  journal: await count('customer_journal'),
  activity: await count('customer_activity'),
  outbox: await count('outbox'),
});
const journalOf = (customerId: string) =>
  db().selectFrom('customer_journal').selectAll().where('customer_id', '=', customerId).orderBy('version').orderBy('idx').execute();

async function createCustomer(body: Record<string, unknown>, actor = supervisor) {
  const res = await call(actor, 'POST', '/v1/customers', body);
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; version: number; identities: { id: string; kind: string; value: string }[] };
}

describe('POST /v1/customers', () => {
  it('creates a customer, and a retry with the same Idempotency-Key answers the same without a second customer', async () => {
    const t1 = tag();
    const body = { name: 'Ana', segment: 'gold', tier: 'vip', external_ids: { crm: `C-${t1}` }, identities: [{ kind: 'email', value: `Ana.${t1}@Example.com` }] };
    const key = randomUUID();
    const first = await call(integrator, 'POST', '/v1/customers', body, { 'idempotency-key': key });
    expect(first.statusCode, first.body).toBe(201);
    expect(first.headers.location).toBe(`/v1/customers/${first.json().id}`);
    expect(first.json()).toMatchObject({ name: 'Ana', segment: 'gold', external_ids: { crm: `C-${t1}` }, identities: [{ kind: 'email', value: `ana.${t1}@example.com`, channel: null }] });
    const before = await snapshot();
    const again = await call(integrator, 'POST', '/v1/customers', body, { 'idempotency-key': key });
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    expect(await snapshot()).toEqual(before);
  });

  it('upserts by external id: the same CRM id updates the customer (200) instead of creating another', async () => {
    const t1 = tag();
    const made = await createCustomer({ name: 'Bo', external_ids: { crm: `C-${t1}` } });
    const res = await call(integrator, 'POST', '/v1/customers', {
      external_ids: { crm: `C-${t1}` },
      segment: 'silver',
      metrics: { lifetime_value: { value: 1200, as_of: '2026-01-01T00:00:00Z', source: 'crm' } },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ id: made.id, name: 'Bo', segment: 'silver', metrics: { lifetime_value: { value: 1200, source: 'crm' } }, version: 2 });
  });

  it('refuses an identity another customer holds: 409 naming the identity and the owner, nothing written', async () => {
    const t1 = tag();
    const owner = await createCustomer({ identities: [{ kind: 'handle', channel: 'twitter', value: `@cleo_${t1}` }] });
    const other = await createCustomer({ name: 'Other' });
    const before = await snapshot();
    const res = await call(supervisor, 'POST', `/v1/customers/${other.id}/identities`, { kind: 'handle', channel: 'Twitter', value: `@Cleo_${t1}` });
    const problem = expectProblem(res, 409, 'IDENTITY_CLAIMED');
    expect(problem).toMatchObject({ owner_id: owner.id, identity: { kind: 'handle', channel: 'twitter', value: `cleo_${t1}` } });
    expect(problem.detail).toContain(owner.id);
    expect(await snapshot()).toEqual(before);
    const stillOther = await call(supervisor, 'GET', `/v1/customers/${other.id}`);
    expect(stillOther.json()).toMatchObject({ version: 1, identities: [] });
  });

  it('answers a malformed identity with 422 naming the field', async () => {
    const before = await snapshot();
    const res = await call(supervisor, 'POST', '/v1/customers', { identities: [{ kind: 'phone', value: '12' }] });
    const problem = expectProblem(res, 422, 'INVALID_IDENTITY');
    expect(problem.errors).toEqual([{ pointer: '/identities/0/value', detail: expect.stringContaining('8-15 digits') }]);
    expect(await snapshot()).toEqual(before);
  });

  it('is refused to agents (403)', async () => {
    expectProblem(await call(agent, 'POST', '/v1/customers', { name: 'x' }), 403, 'FORBIDDEN');
  });
});

describe('POST /v1/customers/:id/activity', () => {
  it('records one activity or a batch, and refuses a malformed one with 422 pointers, nothing written', async () => {
    const c = await createCustomer({ name: 'Dee' });
    const one = await call(integrator, 'POST', `/v1/customers/${c.id}/activity`, { kind: 'purchase', at: '2026-01-10T10:00:00Z', amount: 30, ref: 'o-1' });
    expect(one.statusCode, one.body).toBe(201);
    const batch = await call(integrator, 'POST', `/v1/customers/${c.id}/activity`, {
      activities: [
        { kind: 'purchase', at: '2026-02-09T10:00:00+02:00', amount: 45.5 },
        { kind: 'contact', at: '2026-02-10T10:00:00Z', channel: 'twitter' },
      ],
      reason: 'CRM sync',
    });
    expect(batch.statusCode, batch.body).toBe(201);
    expect(batch.json().activity_summary).toEqual({ counts: { purchase: 2, contact: 1 }, last: { purchase: '2026-02-09T08:00:00.000Z', contact: '2026-02-10T10:00:00.000Z' } });

    const before = await snapshot();
    const bad = await call(integrator, 'POST', `/v1/customers/${c.id}/activity`, {
      activities: [
        { kind: 'purchase', at: '2026-02-11T10:00:00Z', amount: 10 },
        { kind: 'teleport', at: '2026-02-11T10:00:00Z' },
        { kind: 'purchase', at: '11/02/2026', amount: '12' },
        { kind: 'login', at: '2999-01-01T00:00:00Z' },
      ],
    });
    const problem = expectProblem(bad, 422, 'INVALID_ACTIVITY');
    expect(problem.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['/activities/1/kind', '/activities/2/at', '/activities/2/amount', '/activities/3/at']);
    const single = expectProblem(await call(integrator, 'POST', `/v1/customers/${c.id}/activity`, { kind: 'purchase', at: 'soon' }), 422, 'INVALID_ACTIVITY');
    expect(single.errors).toEqual([{ pointer: '/at', detail: expect.stringContaining('RFC 3339') }]);
    expect(await snapshot()).toEqual(before);
  });
});

describe('the 360 and the case link', () => {
  it('a case opened with a handle finds the customer; the 360 shows profile, metrics, percentiles, cases, posts, activity; the case view a summary', async () => {
    const t1 = tag();
    const c = await createCustomer({
      name: 'Eva',
      segment: 'gold',
      tier: 'platinum',
      identities: [{ kind: 'handle', channel: 'x', value: `@eva_${t1}` }],
      metrics: {
        lifetime_value: { value: 10_000_000, as_of: '2026-01-01T00:00:00Z', source: 'crm' },
        referral_value: { value: 0.5, as_of: '2026-01-01T00:00:00Z', source: 'crm' },
      },
    });
    await call(integrator, 'POST', `/v1/customers/${c.id}/activity`, { kind: 'contact', at: '2026-02-01T12:00:00Z' });
    const opened = await api.open(agent, { template: 'social-complaint', title: 'Eva complains', customer: { handle: `@EVA_${t1}`, channel: 'x', name: 'Eva' } });
    expect(opened.customer).toMatchObject({ id: c.id, handle: `@EVA_${t1}` });
    const row = await db().selectFrom('cases').select('customer_id').where('id', '=', opened.id).executeTakeFirstOrThrow();
    expect(row.customer_id).toBe(c.id);
    const content = await call(agent, 'POST', `/v1/cases/${opened.id}/content`, { kind: 'social_post', data: { channel: 'x', post_id: `eva-${t1}`, author_handle: `@eva_${t1}`, text: 'Still broken!', reach: 1200 } });
    expect(content.statusCode, content.body).toBe(201);

    const view = await call(agent, 'GET', `/v1/customers/${c.id}`);
    expect(view.statusCode, view.body).toBe(200);
    const v = view.json();
    expect(v).toMatchObject({
      id: c.id,
      name: 'Eva',
      segment: 'gold',
      tier: 'platinum',
      metrics: { lifetime_value: { value: 10_000_000, as_of: '2026-01-01T00:00:00.000Z', source: 'crm' } },
      identities: [{ kind: 'handle', channel: 'x', value: `eva_${t1}` }],
      last_contact_at: '2026-02-01T12:00:00.000Z',
      cases: { open: [{ id: opened.id, title: 'Eva complains', status: 'open', priority_score: expect.any(Number), priority_factors: expect.arrayContaining([expect.objectContaining({ name: 'lifetime_value' })]) }], recent: [] },
      activity: [{ kind: 'contact', at: '2026-02-01T12:00:00.000Z' }],
    });
    expect(v.value_percentiles.clv).toBe(1);
    expect(v.posts).toEqual([expect.objectContaining({ case_id: opened.id, data: expect.objectContaining({ text: 'Still broken!' }) })]);

    const caseView = (await call(agent, 'GET', `/v1/cases/${opened.id}`)).json();
    expect(caseView.customer_summary).toEqual({
      id: c.id,
      status: 'active',
      merged_into: null,
      name: 'Eva',
      segment: 'gold',
      tier: 'platinum',
      clv: 10_000_000,
      crv: 0.5,
      churn_risk: null,
      value_percentiles: { clv: 1, crv: expect.any(Number) },
      last_contact_at: '2026-02-01T12:00:00.000Z',
    });
  });

  it('a case opened with a new e-mail creates its customer in the same transaction; an id nobody holds becomes the customer id', async () => {
    const t1 = tag();
    const opened = await api.open(agent, { template: 'social-complaint', title: 'New person', customer: { email: `new.${t1}@example.com`, name: 'Nia' } });
    const found = await call(supervisor, 'GET', `/v1/customers?email=NEW.${t1}@example.com`);
    expect(found.json().items).toEqual([expect.objectContaining({ id: opened.customer && (opened.customer as { id: string }).id, name: 'Nia' })]);
    const byId = await api.open(agent, { template: 'social-complaint', title: 'CRM id', customer: { id: `crm-${t1}` } });
    expect((byId.customer as { id: string }).id).toBe(`crm-${t1}`);
    expect((await call(supervisor, 'GET', `/v1/customers/crm-${t1}`)).statusCode).toBe(200);
  });

  it('an agent reads only customers of cases they may see (404 otherwise), and the list applies the same rule', async () => {
    const t1 = tag();
    const c = await createCustomer({ name: 'Fay', identities: [{ kind: 'email', value: `fay.${t1}@example.com` }] });
    expectProblem(await call(agent, 'GET', `/v1/customers/${c.id}`), 404, 'CUSTOMER_NOT_FOUND');
    await api.open(agent, { template: 'social-complaint', title: 'Fay', customer: { email: `fay.${t1}@example.com` } });
    expect((await call(agent, 'GET', `/v1/customers/${c.id}`)).statusCode).toBe(200);
    expectProblem(await call(otherAgent, 'GET', `/v1/customers/${c.id}`), 404, 'CUSTOMER_NOT_FOUND');
    expect((await call(agent, 'GET', `/v1/customers?email=fay.${t1}@example.com`)).json().items).toHaveLength(1);
    expect((await call(otherAgent, 'GET', `/v1/customers?email=fay.${t1}@example.com`)).json().items).toHaveLength(0);
  });
});

describe('POST /v1/customers/:id/merge', () => {
  it('moves identities, external ids, activity and cases to the survivor; the other becomes a tombstone; journal on both and on the case', async () => {
    const t1 = tag();
    const survivor = await createCustomer({ name: 'Gus', identities: [{ kind: 'email', value: `gus.${t1}@example.com` }] });
    const dup = await createCustomer({ segment: 'gold', external_ids: { shop: `S-${t1}` }, identities: [{ kind: 'handle', channel: 'x', value: `@gus_${t1}` }] });
    await call(integrator, 'POST', `/v1/customers/${dup.id}/activity`, { kind: 'purchase', at: '2026-01-05T00:00:00Z', amount: 99 });
    const caseOfDup = await api.open(agent, { template: 'social-complaint', title: 'Gus on X', customer: { id: dup.id } });
    const caseVersion = caseOfDup.version;

    const res = await call(supervisor, 'POST', `/v1/customers/${survivor.id}/merge`, { from: dup.id, reason: 'same person: CRM duplicate' });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.moved_cases).toEqual([caseOfDup.id]);
    expect(body.survivor).toMatchObject({ id: survivor.id, name: 'Gus', segment: 'gold', external_ids: { shop: `S-${t1}` }, merged_from: [dup.id], activity_summary: { counts: { purchase: 1 } } });
    expect(body.survivor.identities.map((i: { value: string }) => i.value).sort()).toEqual([`gus.${t1}@example.com`, `gus_${t1}`].sort());
    expect(body.merged).toMatchObject({ id: dup.id, status: 'merged', merged_into: survivor.id, identities: [] });

    const identityOwners = await db().selectFrom('customer_identities').select(['customer_id', 'value']).where('value', 'in', [`gus.${t1}@example.com`, `gus_${t1}`]).execute();
    expect(identityOwners.every((r) => r.customer_id === survivor.id)).toBe(true);
    const ext = await db().selectFrom('customer_external_ids').select('customer_id').where('external_id', '=', `S-${t1}`).executeTakeFirstOrThrow();
    expect(ext.customer_id).toBe(survivor.id);
    const activity = await db().selectFrom('customer_activity').select('customer_id').where('amount', '=', 99).where('customer_id', 'in', [survivor.id, dup.id]).execute();
    expect(activity.map((a) => a.customer_id)).toEqual([survivor.id]);
    const caseRow = await db().selectFrom('cases').select(['customer_id', 'version', 'state']).where('id', '=', caseOfDup.id).executeTakeFirstOrThrow();
    expect(caseRow).toMatchObject({ customer_id: survivor.id, version: caseVersion + 1 });
    expect((caseRow.state as { customer: { id: string }; version: number }).customer.id).toBe(survivor.id);
    const caseJournal = await db().selectFrom('journal').selectAll().where('case_id', '=', caseOfDup.id).where('type', '=', 'customer.merged').execute();
    expect(caseJournal).toEqual([expect.objectContaining({ version: caseVersion + 1, actor_id: supervisor.userId, reason: 'same person: CRM duplicate', data: { from: dup.id, into: survivor.id } })]);

    const sJournal = await journalOf(survivor.id);
    expect(sJournal.at(-1)).toMatchObject({ type: 'customer.merged_in', actor_id: supervisor.userId, reason: 'same person: CRM duplicate', data: expect.objectContaining({ from: dup.id, cases: [caseOfDup.id] }) });
    const dJournal = await journalOf(dup.id);
    expect(dJournal.at(-1)).toMatchObject({ type: 'customer.merged_into', reason: 'same person: CRM duplicate', data: expect.objectContaining({ into: survivor.id }) });
    const outbox = await db().selectFrom('outbox').select('type').where('customer_id', '=', survivor.id).execute();
    expect(outbox.map((o) => o.type)).toContain('customer.merged');

    // The tombstone answers 200 with merged_into and a canonical link; it takes no more commands.
    const tomb = await call(supervisor, 'GET', `/v1/customers/${dup.id}`);
    expect(tomb.statusCode).toBe(200);
    expect(tomb.json()).toMatchObject({ status: 'merged', merged_into: survivor.id });
    expect(tomb.headers.link).toBe(`</v1/customers/${survivor.id}>; rel="canonical"`);
    const before = await snapshot();
    expectProblem(await call(supervisor, 'PATCH', `/v1/customers/${dup.id}`, { name: 'x' }), 409, 'CUSTOMER_MERGED');
    expectProblem(await call(supervisor, 'POST', `/v1/customers/${survivor.id}/merge`, { from: dup.id, reason: 'again' }), 409, 'CUSTOMER_MERGED');
    expect(await snapshot()).toEqual(before);
    // The cases follow: a case opened with the old id now lands on the survivor.
    const later = await api.open(agent, { template: 'social-complaint', title: 'Old id', customer: { id: dup.id } });
    expect((later.customer as { id: string }).id).toBe(survivor.id);
  });

  it('refuses merging a customer into itself (422), nothing written', async () => {
    const c = await createCustomer({ name: 'Hal' });
    const before = await snapshot();
    expectProblem(await call(supervisor, 'POST', `/v1/customers/${c.id}/merge`, { from: c.id, reason: 'oops' }), 422, 'MERGE_NOT_ALLOWED');
    expect(await snapshot()).toEqual(before);
  });
});

describe('PATCH /v1/customers/:id', () => {
  it('changes profile and metrics with If-Match; a stale version is 412 and writes nothing', async () => {
    const c = await createCustomer({ name: 'Ivy', segment: 'bronze' });
    const res = await call(supervisor, 'PATCH', `/v1/customers/${c.id}`, { segment: 'gold', tier: null, metrics: { churn_risk: { value: 0.7, as_of: '2026-02-01T00:00:00Z', source: 'model-v1' } }, reason: 'quarterly review' }, { 'if-match': '"v1"' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers.etag).toBe('"v2"');
    expect(res.json()).toMatchObject({ segment: 'gold', metrics: { churn_risk: { value: 0.7, source: 'model-v1' } } });
    const before = await snapshot();
    expectProblem(await call(supervisor, 'PATCH', `/v1/customers/${c.id}`, { segment: 'silver' }, { 'if-match': '"v1"' }), 412, 'CUSTOMER_VERSION_MISMATCH');
    expect(await snapshot()).toEqual(before);
    const journal = await journalOf(c.id);
    expect(journal.filter((j) => j.version === 2).map((j) => [j.type, j.reason])).toEqual([
      ['customer.profile_updated', 'quarterly review'],
      ['customer.metrics_updated', 'quarterly review'],
    ]);
  });
});

describe('CEL reads the customer', () => {
  it('a guard on customer.segment lets gold customers through and holds others back', async () => {
    const t1 = tag();
    const machine = {
      id: 'vip-lane',
      initial: 'waiting',
      states: { waiting: { on: { FAST_TRACK: { target: 'done', guard: { type: 'expr', params: { expr: "customer.segment == 'gold' && customer.clv > 1000.0" } } } } }, done: { type: 'final' } },
    };
    async function caseFor(segment: string): Promise<{ c: CaseView; fid: string }> {
      await createCustomer({ segment, identities: [{ kind: 'email', value: `${segment}.${t1}@example.com` }], metrics: { lifetime_value: { value: 5000, as_of: '2026-01-01T00:00:00Z', source: 'crm' } } });
      const c = await api.open(agent, { template: 'social-complaint', title: `Guarded ${segment}`, customer: { email: `${segment}.${t1}@example.com` } });
      const added = await call(agent, 'POST', `/v1/cases/${c.id}/fragments`, { definition: { title: 'VIP lane', machine } });
      expect(added.statusCode, added.body).toBe(201);
      const view = added.json() as CaseView;
      return { c: view, fid: view.fragments.find((f) => f.title === 'VIP lane')!.id };
    }
    const gold = await caseFor('gold');
    const goldView = await api.get(agent, gold.c.id);
    expect(goldView.fragments.find((f) => f.id === gold.fid)!.accepted_events).toContain('FAST_TRACK');
    const sent = await call(agent, 'POST', `/v1/cases/${gold.c.id}/events`, { type: 'FAST_TRACK', fragment_id: gold.fid });
    expect(sent.statusCode, sent.body).toBe(200);
    expect((sent.json() as CaseView).fragments.find((f) => f.id === gold.fid)!.status).toBe('done');

    const bronze = await caseFor('bronze');
    const refused = await call(agent, 'POST', `/v1/cases/${bronze.c.id}/events`, { type: 'FAST_TRACK', fragment_id: bronze.fid });
    expectProblem(refused, 409, 'EVENT_NOT_ACCEPTED');
  });

  it('a goal condition reads customer.tier', async () => {
    const t1 = tag();
    await createCustomer({ tier: 'vip', identities: [{ kind: 'email', value: `tier.${t1}@example.com` }] });
    const c = await api.open(agent, { template: 'social-complaint', title: 'Tier goal', customer: { email: `tier.${t1}@example.com` } });
    const res = await call(agent, 'POST', `/v1/cases/${c.id}/goals`, { key: 'vip_touch', title: 'VIP handled', condition: "has(customer.tier) && customer.tier == 'vip'", required: false });
    expect(res.statusCode, res.body).toBe(201);
    expect((res.json() as CaseView).goals.find((g) => g.key === 'vip_touch')!.status).toBe('achieved');
  });
});
