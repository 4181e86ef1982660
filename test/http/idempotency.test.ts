/**
 * Idempotency-Key on every write route, one test per route family: the same key and body
 * answer the first answer again (`idempotent-replayed: true`) with no second effect, another
 * body with the key is a 422, and two identical requests in parallel make one object. Answers
 * with a one-time secret replay the same secret, which is stored sealed, never in clear.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, expectProblem, fragmentOf, taskOf } from '../support/case-api.js';
import { ADMIN_KEY, bearer, startTestApp, uniqueId } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let integrator: Actor;
let agent: Actor;
const admin = bearer(ADMIN_KEY);

beforeAll(async () => {
  t = await startTestApp({ config: { TESSERA_WEBHOOK_ALLOWLIST: '127.0.0.1' } });
  integrator = await createActor(t.database.db, 'integrator');
  agent = await createActor(t.database.db, 'agent');
});
afterAll(() => t.close());

type Method = 'POST' | 'PATCH' | 'DELETE';
const call = (headers: Record<string, string>, method: Method, url: string, key: string, body?: unknown) =>
  t.app.inject({
    method,
    url,
    headers: { ...headers, 'idempotency-key': key, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });

/** The second answer is the first one again, marked replayed. */
function expectReplay(first: Awaited<ReturnType<typeof call>>, second: Awaited<ReturnType<typeof call>>) {
  expect(first.statusCode, first.body).toBeLessThan(300);
  expect(first.headers['idempotent-replayed']).toBeUndefined();
  expect(second.statusCode).toBe(first.statusCode);
  expect(second.headers['idempotent-replayed']).toBe('true');
  // The same answer (jsonb keeps no key order, so compared as JSON).
  expect(second.body === '' ? '' : second.json()).toEqual(first.body === '' ? '' : first.json());
}

const count = async (query: ReturnType<typeof sql<{ n: number }>>) => (await query.execute(t.database.db)).rows[0]!.n;

describe('webhook subscriptions', () => {
  const subscribe = (key: string, description = 'd') =>
    call(integrator.headers, 'POST', '/v1/webhook-subscriptions', key, { url: 'http://127.0.0.1:9/hook', event_types: ['case.opened'], description });
  const mine = (description: string) =>
    count(sql<{ n: number }>`select count(*)::int as n from webhook_subscriptions where created_by = ${integrator.userId} and description = ${description}`);

  it('creating twice with one key makes one subscription and shows the same secret; the stored answer is sealed', async () => {
    const key = uniqueId('k');
    const description = uniqueId('d');
    const first = await subscribe(key, description);
    const second = await subscribe(key, description);
    expectReplay(first, second);
    expect(second.headers.location).toBe(first.headers.location);
    expect(await mine(description)).toBe(1);
    const secret = first.json().secret as string;
    const stored = await t.database.db.selectFrom('idempotency_keys').selectAll().where('owner', '=', integrator.userId).where('key', '=', key).executeTakeFirstOrThrow();
    expect(stored.response_sealed).toMatch(/^tsb1\./);
    expect(JSON.stringify(stored)).not.toContain(secret.slice(6));

    const other = await subscribe(key, 'another description');
    expectProblem(other, 422, 'IDEMPOTENCY_KEY_REUSED');
    expect(await mine('another description')).toBe(0);
  });

  it('two identical creations in parallel make one subscription', async () => {
    const key = uniqueId('k');
    const description = uniqueId('d');
    const answers = await Promise.all([subscribe(key, description), subscribe(key, description), subscribe(key, description)]);
    expect(answers.map((a) => a.statusCode)).toEqual([201, 201, 201]);
    expect(new Set(answers.map((a) => a.json().id)).size).toBe(1);
    expect(answers.filter((a) => a.headers['idempotent-replayed'] === 'true')).toHaveLength(2);
    expect(await mine(description)).toBe(1);
  });

  it('rotate-secret, patch and delete replay their first answer with no second effect', async () => {
    const sub = (await subscribe(uniqueId('k'))).json();
    const url = `/v1/webhook-subscriptions/${sub.id}`;
    const rotateKey = uniqueId('k');
    const rotated = await call(integrator.headers, 'POST', `${url}/rotate-secret`, rotateKey, {});
    const sealedAfterFirst = (await t.database.db.selectFrom('webhook_subscriptions').select('secret_sealed').where('id', '=', sub.id).executeTakeFirstOrThrow()).secret_sealed;
    const again = await call(integrator.headers, 'POST', `${url}/rotate-secret`, rotateKey, {});
    expectReplay(rotated, again);
    const row = await t.database.db.selectFrom('webhook_subscriptions').selectAll().where('id', '=', sub.id).executeTakeFirstOrThrow();
    expect(row.secret_sealed).toBe(sealedAfterFirst);
    expect(t.secrets.open(row.secret_sealed)).toBe(rotated.json().secret);
    // The previous secret is the one from creation, not the first rotation's.
    expect(t.secrets.open(row.previous_secret_sealed!)).toBe(sub.secret);

    const patchKey = uniqueId('k');
    expectReplay(await call(integrator.headers, 'PATCH', url, patchKey, { enabled: false }), await call(integrator.headers, 'PATCH', url, patchKey, { enabled: false }));

    const deleteKey = uniqueId('k');
    const deleted = await call(integrator.headers, 'DELETE', url, deleteKey);
    expect(deleted.statusCode).toBe(204);
    const deletedAgain = await call(integrator.headers, 'DELETE', url, deleteKey);
    expectReplay(deleted, deletedAgain);
    // Without the key, the second delete is a 404: the replay above did not run it again.
    expectProblem(await t.app.inject({ method: 'DELETE', url, headers: integrator.headers }), 404, 'WEBHOOK_SUBSCRIPTION_NOT_FOUND');
  });

  it('a range replay with one key resends once', async () => {
    const sub = (await subscribe(uniqueId('k'))).json();
    await caseApi(t).open(agent, { template: 'billing-dispute', title: 'Replay me', case_file: { account: { id: 'acc-r' } } });
    const range = { from: new Date(Date.now() - 60_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() };
    const key = uniqueId('k');
    const [a, b] = await Promise.all([
      call(integrator.headers, 'POST', `/v1/webhook-subscriptions/${sub.id}/replay`, key, range),
      call(integrator.headers, 'POST', `/v1/webhook-subscriptions/${sub.id}/replay`, key, range),
    ]);
    expect([a.statusCode, b.statusCode]).toEqual([202, 202]);
    expect(a.json()).toEqual(b.json());
    expect([a, b].filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(1);
    const deliveries = await count(sql<{ n: number }>`select count(*)::int as n from webhook_deliveries where subscription_id = ${sub.id}`);
    expect(deliveries).toBe(a.json().deliveries);
  });
});

describe('API keys', () => {
  it('creating twice (and in parallel) with one key makes one key and shows the same secret', async () => {
    const userId = uniqueId('user');
    const key = uniqueId('k');
    const body = { role: 'agent', user_id: userId, name: 'Ada' };
    const answers = await Promise.all([call(admin, 'POST', '/v1/api-keys', key, body), call(admin, 'POST', '/v1/api-keys', key, body)]);
    const later = await call(admin, 'POST', '/v1/api-keys', key, body);
    expect([...answers, later].map((a) => a.statusCode)).toEqual([201, 201, 201]);
    expect(new Set([...answers, later].map((a) => a.json().key)).size).toBe(1);
    expect(later.headers['idempotent-replayed']).toBe('true');
    expect(await count(sql<{ n: number }>`select count(*)::int as n from api_keys where user_id = ${userId}`)).toBe(1);
    // The replayed key works; the stored answer does not hold it in clear.
    const me = await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(later.json().key) });
    expect(me.json()).toMatchObject({ user_id: userId });
    expect(await count(sql<{ n: number }>`select count(*)::int as n from idempotency_keys where response::text like ${`%${later.json().key}%`}`)).toBe(0);
    expectProblem(await call(admin, 'POST', '/v1/api-keys', key, { ...body, name: 'Other' }), 422, 'IDEMPOTENCY_KEY_REUSED');
  });
});

describe('inbound sources', () => {
  const mapping = { rules: [{ correlate: { by: 'external_ref', ref: 'order_id', value: 'data.order_id' }, event: { type: 'ORDER_UPDATED' } }] };

  it('create and rotate with one key happen once', async () => {
    const source = `src-${uniqueId('i')}`;
    const key = uniqueId('k');
    const [a, b] = await Promise.all([
      call(admin, 'POST', '/v1/inbound-sources', key, { key: source, mapping }),
      call(admin, 'POST', '/v1/inbound-sources', key, { key: source, mapping }),
    ]);
    // Without the key, the second would be 409 SOURCE_EXISTS.
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    expect(a.json().secret.secret).toBe(b.json().secret.secret);

    const rotateKey = uniqueId('k');
    const rotated = await call(admin, 'POST', `/v1/inbound-sources/${source}/secrets`, rotateKey, {});
    expectReplay(rotated, await call(admin, 'POST', `/v1/inbound-sources/${source}/secrets`, rotateKey, {}));
    const row = await t.database.db.selectFrom('inbound_sources').select('secrets').where('key', '=', source).executeTakeFirstOrThrow();
    expect((row.secrets as unknown[]).length).toBe(2);
  });
});

describe('case commands and tasks', () => {
  it('opening a case twice in parallel with one key opens one case', async () => {
    const title = uniqueId('Parallel open');
    const key = uniqueId('k');
    const body = { template: 'billing-dispute', title, case_file: { account: { id: 'acc-p' } } };
    const answers = await Promise.all([call(agent.headers, 'POST', '/v1/cases', key, body), call(agent.headers, 'POST', '/v1/cases', key, body)]);
    expect(answers.map((a) => a.statusCode)).toEqual([201, 201]);
    expect(answers[0]!.json()).toEqual(answers[1]!.json());
    expect(await count(sql<{ n: number }>`select count(*)::int as n from cases where title = ${title}`)).toBe(1);
  });

  it('claiming a task twice with one key replays the claim', async () => {
    const c = await caseApi(t).open(agent, { template: 'billing-dispute', title: 'Claim', case_file: { account: { id: 'acc-t' } } });
    const task = taskOf(c, fragmentOf(c, 'verify-identity').id);
    const key = uniqueId('k');
    const first = await call(agent.headers, 'POST', `/v1/tasks/${task.id}/claim`, key);
    const second = await call(agent.headers, 'POST', `/v1/tasks/${task.id}/claim`, key);
    expectReplay(first, second);
    expect((await caseApi(t).get(agent, c.id)).version).toBe(first.json().case_version);
  });
});
