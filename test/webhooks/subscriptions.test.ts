import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { expectProblem } from '../support/case-api.js';
import { admin, createPrivateDatabase, openWebhookNode, privatePrefix, tableResolver, type WebhookNode } from './webhook-stack.js';

const resolveHost = tableResolver({
  'hooks.example.com': ['93.184.216.34'],
  'inside.example.com': ['10.20.30.40'],
  'metadata.example.com': ['169.254.169.254'],
  'local.example.com': ['127.0.0.1'],
  'receiver.internal': ['10.9.9.9'],
});

let db: { url: string; drop: () => Promise<void> };
let node: WebhookNode;
let integrator: Actor;
let otherIntegrator: Actor;
let agent: Actor;

beforeAll(async () => {
  db = await createPrivateDatabase();
  // No worker runs here: these tests never deliver.
  node = await openWebhookNode(db.url, privatePrefix('subs'), { allowlist: 'receiver.internal', resolveHost });
  integrator = await createActor(node.database.db, 'integrator');
  otherIntegrator = await createActor(node.database.db, 'integrator');
  agent = await createActor(node.database.db, 'agent');
});
afterAll(async () => {
  await node?.close();
  await db?.drop();
});

const subscriptionCount = async () =>
  (await sql<{ n: number }>`select count(*)::int as n from webhook_subscriptions`.execute(node.database.db)).rows[0]!.n;

async function create(actor: { authorization: string }, payload: Record<string, unknown>) {
  return node.app.inject({ method: 'POST', url: '/v1/webhook-subscriptions', headers: actor, payload });
}

describe('creating a subscription', () => {
  it('returns the whsec_ secret once, stores it sealed, and never shows it again', async () => {
    const res = await create(integrator.headers, { url: 'https://hooks.example.com/tessera', event_types: ['case.opened', 'goal.breached'], description: 'CRM' });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({ url: 'https://hooks.example.com/tessera', event_types: ['case.opened', 'goal.breached'], enabled: true, created_by: integrator.userId });
    expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(res.headers.location).toBe(`/v1/webhook-subscriptions/${body.id}`);

    const row = await node.database.db.selectFrom('webhook_subscriptions').selectAll().where('id', '=', body.id).executeTakeFirstOrThrow();
    expect(row.secret_sealed.startsWith('tsb1.')).toBe(true);
    expect(row.secret_sealed).not.toContain(body.secret.slice(6));

    const read = await node.app.inject({ method: 'GET', url: `/v1/webhook-subscriptions/${body.id}`, headers: integrator.headers });
    expect(read.statusCode).toBe(200);
    expect(read.json()).not.toHaveProperty('secret');
    expect(read.body).not.toContain(body.secret);
    const list = await node.app.inject({ method: 'GET', url: '/v1/webhook-subscriptions', headers: integrator.headers });
    expect(list.body).not.toContain(body.secret);
  });

  it.each([
    ['http://127.0.0.1:9000/hook', 'loopback'],
    ['http://10.0.0.8/hook', 'private'],
    ['http://169.254.169.254/latest/meta-data/', 'link-local'],
    ['https://inside.example.com/hook', 'resolves to 10.20.30.40'],
    ['https://metadata.example.com/hook', 'resolves to 169.254.169.254'],
    ['https://local.example.com/hook', 'resolves to 127.0.0.1'],
    ['ftp://hooks.example.com/x', 'https'],
  ])('refuses %s with a 422 naming url and the fix, writing nothing', async (url, words) => {
    const before = await subscriptionCount();
    const problem = expectProblem(await create(integrator.headers, { url, event_types: ['*'] }), 422, 'WEBHOOK_URL_NOT_ALLOWED');
    expect(problem.detail).toContain(words);
    if (!url.startsWith('ftp')) expect(problem.detail).toContain('TESSERA_WEBHOOK_ALLOWLIST');
    expect(problem.errors).toEqual([expect.objectContaining({ pointer: '/url', in: 'body' })]);
    expect(await subscriptionCount()).toBe(before);
  });

  it('accepts a private receiver the allowlist names', async () => {
    const res = await create(integrator.headers, { url: 'http://receiver.internal:8080/hook', event_types: ['*'] });
    expect(res.statusCode).toBe(201);
  });

  it('refuses unknown core event types and unknown fields, naming them', async () => {
    const before = await subscriptionCount();
    const typo = expectProblem(await create(integrator.headers, { url: 'https://hooks.example.com/', event_types: ['case.opened', 'case.opend'] }), 422, 'INVALID_EVENT_TYPE');
    expect(typo.errors).toEqual([expect.objectContaining({ pointer: '/event_types/1', detail: expect.stringContaining('GET /v1/event-types') })]);
    const extra = expectProblem(await create(integrator.headers, { url: 'https://hooks.example.com/', event_types: ['*'], secret: 'mine' }), 400, 'VALIDATION_FAILED');
    expect(extra.errors).toEqual([expect.objectContaining({ pointer: '/secret' })]);
    expectProblem(await create(integrator.headers, { url: 'https://hooks.example.com/', event_types: [] }), 400, 'VALIDATION_FAILED');
    expect(await subscriptionCount()).toBe(before);
    // A fragment's own event type (outside the core namespaces) may be named.
    expect((await create(integrator.headers, { url: 'https://hooks.example.com/', event_types: ['refund.approved'] })).statusCode).toBe(201);
  });
});

describe('who manages subscriptions', () => {
  it('integrators see and change only their own; admins see all; agents may not', async () => {
    const mine = (await create(integrator.headers, { url: 'https://hooks.example.com/mine', event_types: ['*'] })).json();
    const theirs = (await create(otherIntegrator.headers, { url: 'https://hooks.example.com/theirs', event_types: ['*'] })).json();

    const list = (await node.app.inject({ method: 'GET', url: '/v1/webhook-subscriptions?limit=100', headers: integrator.headers })).json();
    const ids = list.items.map((s: { id: string }) => s.id);
    expect(ids).toContain(mine.id);
    expect(ids).not.toContain(theirs.id);
    expect(list.items.every((s: { created_by: string }) => s.created_by === integrator.userId)).toBe(true);

    expectProblem(await node.app.inject({ method: 'GET', url: `/v1/webhook-subscriptions/${theirs.id}`, headers: integrator.headers }), 404, 'WEBHOOK_SUBSCRIPTION_NOT_FOUND');
    expectProblem(await node.app.inject({ method: 'DELETE', url: `/v1/webhook-subscriptions/${theirs.id}`, headers: integrator.headers }), 404, 'WEBHOOK_SUBSCRIPTION_NOT_FOUND');
    expectProblem(
      await node.app.inject({ method: 'PATCH', url: `/v1/webhook-subscriptions/${theirs.id}`, headers: integrator.headers, payload: { enabled: false } }),
      404,
      'WEBHOOK_SUBSCRIPTION_NOT_FOUND',
    );
    const untouched = await node.database.db.selectFrom('webhook_subscriptions').select('enabled').where('id', '=', theirs.id).executeTakeFirstOrThrow();
    expect(untouched.enabled).toBe(true);

    // Every page an admin can walk (other tests' subscriptions share this database).
    const seen: string[] = [];
    for (let cursor: string | null = ''; cursor !== null; ) {
      const page: { items: { id: string }[]; next_cursor: string | null } = (await node.app.inject({ method: 'GET', url: `/v1/webhook-subscriptions?limit=100${cursor ? `&cursor=${cursor}` : ''}`, headers: admin })).json();
      seen.push(...page.items.map((s: { id: string }) => s.id));
      cursor = page.next_cursor;
    }
    expect(seen).toEqual(expect.arrayContaining([mine.id, theirs.id]));

    expectProblem(await create(agent.headers, { url: 'https://hooks.example.com/', event_types: ['*'] }), 403, 'FORBIDDEN');
    expectProblem(await node.app.inject({ method: 'GET', url: '/v1/webhook-deliveries', headers: agent.headers }), 403, 'FORBIDDEN');
  });

  it('pages the list with an opaque cursor', async () => {
    const owner = await createActor(node.database.db, 'integrator');
    for (let i = 0; i < 3; i++) await create(owner.headers, { url: `https://hooks.example.com/${i}`, event_types: ['*'] });
    const first = (await node.app.inject({ method: 'GET', url: '/v1/webhook-subscriptions?limit=2', headers: owner.headers })).json();
    expect(first.items).toHaveLength(2);
    const second = (await node.app.inject({ method: 'GET', url: `/v1/webhook-subscriptions?limit=2&cursor=${first.next_cursor}`, headers: owner.headers })).json();
    expect(second.items).toHaveLength(1);
    expect(second.next_cursor).toBeNull();
    expect(first.items.map((s: { url: string }) => s.url)).toEqual(['https://hooks.example.com/2', 'https://hooks.example.com/1']);
    expectProblem(await node.app.inject({ method: 'GET', url: '/v1/webhook-subscriptions?cursor=nope', headers: owner.headers }), 400, 'VALIDATION_FAILED');
  });
});

describe('changing a subscription', () => {
  it('re-checks a new URL against the SSRF guard and leaves the row alone when refused', async () => {
    const sub = (await create(integrator.headers, { url: 'https://hooks.example.com/a', event_types: ['*'] })).json();
    const refused = await node.app.inject({
      method: 'PATCH',
      url: `/v1/webhook-subscriptions/${sub.id}`,
      headers: integrator.headers,
      payload: { url: 'http://169.254.169.254/', enabled: false },
    });
    expectProblem(refused, 422, 'WEBHOOK_URL_NOT_ALLOWED');
    const row = await node.database.db.selectFrom('webhook_subscriptions').selectAll().where('id', '=', sub.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ url: 'https://hooks.example.com/a', enabled: true });

    const changed = await node.app.inject({
      method: 'PATCH',
      url: `/v1/webhook-subscriptions/${sub.id}`,
      headers: integrator.headers,
      payload: { url: 'https://hooks.example.com/b', event_types: ['case.opened'], enabled: false, description: null },
    });
    expect(changed.statusCode).toBe(200);
    expect(changed.json()).toMatchObject({ url: 'https://hooks.example.com/b', event_types: ['case.opened'], enabled: false, description: null });
  });

  it('rotates the secret: the new one is shown once and, during the overlap, both sign', async () => {
    const sub = (await create(integrator.headers, { url: 'https://hooks.example.com/r', event_types: ['*'] })).json();
    const res = await node.app.inject({ method: 'POST', url: `/v1/webhook-subscriptions/${sub.id}/rotate-secret`, headers: integrator.headers, payload: {} });
    expect(res.statusCode).toBe(200);
    const rotated = res.json();
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(sub.secret);
    expect(Date.parse(rotated.previous_secret_expires_at) - Date.now()).toBeGreaterThan(23 * 3600_000);
    const row = await node.database.db.selectFrom('webhook_subscriptions').selectAll().where('id', '=', sub.id).executeTakeFirstOrThrow();
    const { testSecretBox } = await import('../support/platform.js');
    expect(testSecretBox().open(row.secret_sealed)).toBe(rotated.secret);
    expect(testSecretBox().open(row.previous_secret_sealed!)).toBe(sub.secret);

    // Rotating again with no overlap drops the old secret at once.
    const now = (await node.app.inject({ method: 'POST', url: `/v1/webhook-subscriptions/${sub.id}/rotate-secret`, headers: integrator.headers, payload: { expire_previous_in_seconds: 0 } })).json();
    expect(now.previous_secret_expires_at).toBeNull();
    const after = await node.database.db.selectFrom('webhook_subscriptions').selectAll().where('id', '=', sub.id).executeTakeFirstOrThrow();
    expect(after.previous_secret_sealed).toBeNull();
    expect(() => new Webhook(now.secret)).not.toThrow();
  });

  it('deletes a subscription with 204, then answers 404', async () => {
    const sub = (await create(integrator.headers, { url: 'https://hooks.example.com/d', event_types: ['*'] })).json();
    const res = await node.app.inject({ method: 'DELETE', url: `/v1/webhook-subscriptions/${sub.id}`, headers: integrator.headers });
    expect(res.statusCode).toBe(204);
    expect(await node.database.db.selectFrom('webhook_subscriptions').select('id').where('id', '=', sub.id).executeTakeFirst()).toBeUndefined();
    expectProblem(await node.app.inject({ method: 'GET', url: `/v1/webhook-subscriptions/${sub.id}`, headers: integrator.headers }), 404, 'WEBHOOK_SUBSCRIPTION_NOT_FOUND');
  });
});

describe('the event catalog', () => {
  it('publishes every core event type with a payload schema, also as OpenAPI webhooks', async () => {
    const res = await node.app.inject({ method: 'GET', url: '/v1/event-types', headers: agent.headers });
    expect(res.statusCode).toBe(200);
    const types = res.json().items as Array<{ type: string; schema: { required: string[] } }>;
    const names = types.map((t) => t.type);
    expect(names).toEqual(expect.arrayContaining(['case.opened', 'case.resolved', 'goal.at_risk', 'goal.breached', 'task.assigned', 'fragment.completed']));
    // A case's events name the case; a customer's events (customer.*) name the customer.
    expect(types.every((t) => t.schema.required.includes(t.type.startsWith('customer.') ? 'customerId' : 'caseId'))).toBe(true);
    expect(names).toEqual(expect.arrayContaining(['customer.created', 'customer.updated', 'customer.merged']));

    const openapi = (await node.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(openapi.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.webhooks)).toEqual(names);
    expect(openapi.webhooks['case.opened'].post.requestBody.content['application/cloudevents+json'].schema.properties.type).toEqual({ const: 'case.opened' });
    expect(openapi.paths['/v1/webhook-subscriptions']).toBeDefined();
  });
});
