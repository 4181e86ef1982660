/**
 * Users on real Postgres: the admin API, bad input (422 naming the field, nothing written),
 * presence changes journaled, who sees what, and API keys that belong to a user or an integration.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor } from '../support/actors.js';
import { ADMIN_KEY, bearer, startTestApp, uniqueId } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const db = () => t.database.db;
const admin = bearer(ADMIN_KEY);
const userRow = (id: string) => db().selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
const journalOf = (id: string) => db().selectFrom('user_journal').selectAll().where('user_id', '=', id).orderBy('version').execute();

async function create(body: Record<string, unknown>) {
  const res = await t.app.inject({ method: 'POST', url: '/v1/users', headers: admin, payload: { display_name: 'Someone', role: 'agent', ...body } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

describe('POST /v1/users', () => {
  it('creates a user with teams, skills and capacity, journaled with the actor and reason', async () => {
    const username = uniqueId('grace');
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/users',
      headers: admin,
      payload: { username, display_name: 'Grace H.', role: 'supervisor', teams: ['billing', 'social'], skills: { refunds: 4, german: 2 }, capacity: { default: 3, chat: 2 }, reason: 'new hire' },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.headers.location).toBe(`/v1/users/${username}`);
    expect(res.headers.etag).toBe('"v1"');
    expect(res.json()).toMatchObject({ id: username, username, display_name: 'Grace H.', role: 'supervisor', teams: ['billing', 'social'], skills: { german: 2, refunds: 4 }, capacity: { chat: 2, default: 3 }, presence: 'offline', disabled: false, has_password: false, version: 1 });
    expect(await journalOf(username)).toMatchObject([{ version: 1, type: 'user.created', actor_id: 'admin', actor_role: 'admin', reason: 'new hire' }]);
  });

  it('defaults capacity to 5 units', async () => {
    expect((await create({ username: uniqueId('def') })).capacity).toEqual({ default: 5 });
  });

  const BAD: [string, Record<string, unknown>, string][] = [
    ['a skill level above 5', { skills: { refunds: 7 } }, '/skills/refunds'],
    ['a skill level of 0', { skills: { refunds: 0 } }, '/skills/refunds'],
    ['a skill name with spaces', { skills: { 'Big Refunds': 3 } }, '/skills/Big Refunds'],
    ['a capacity of 0', { capacity: { default: 0 } }, '/capacity/default'],
    ['a negative capacity', { capacity: { chat: -2 } }, '/capacity/chat'],
    ['a team name with a space', { teams: ['billing desk'] }, '/teams/0'],
    ['a team twice', { teams: ['billing', 'billing'] }, '/teams'],
    ['a username with a space', { username: 'ada lovelace' }, '/username'],
    ['a blank display name', { display_name: '   ' }, '/display_name'],
    ['a short password', { password: 'short' }, '/password'],
  ];
  for (const [what, body, pointer] of BAD) {
    it(`refuses ${what} with a 422 naming ${pointer}, and writes nothing`, async () => {
      const username = (body.username as string | undefined) ?? uniqueId('bad');
      const res = await t.app.inject({ method: 'POST', url: '/v1/users', headers: admin, payload: { username, display_name: 'Bad', role: 'agent', ...body } });
      expect(res.statusCode, res.body).toBe(422);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json().errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
      expect(await userRow(username)).toBeUndefined();
      expect(await journalOf(username)).toEqual([]);
    });
  }

  it('refuses a fractional level or capacity (the schema: 400 naming the field)', async () => {
    const username = uniqueId('frac');
    const res = await t.app.inject({ method: 'POST', url: '/v1/users', headers: admin, payload: { username, display_name: 'F', role: 'agent', capacity: { default: 1.5 } } });
    expect(res.statusCode).toBe(400);
    expect(JSON.stringify(res.json().errors)).toContain('/capacity/default');
    expect(await userRow(username)).toBeUndefined();
  });

  it('refuses a taken username with 409 USER_EXISTS', async () => {
    const user = await create({ username: uniqueId('dup') });
    const res = await t.app.inject({ method: 'POST', url: '/v1/users', headers: admin, payload: { username: user.username, id: uniqueId('other-id'), display_name: 'X', role: 'agent' } });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('USER_EXISTS');
  });

  it('is admin only', async () => {
    for (const role of ['supervisor', 'agent', 'integrator'] as const) {
      const actor = await createActor(db(), role);
      const username = uniqueId('nope');
      const res = await t.app.inject({ method: 'POST', url: '/v1/users', headers: actor.headers, payload: { username, display_name: 'N', role: 'agent' } });
      expect(res.statusCode, role).toBe(403);
      expect(await userRow(username)).toBeUndefined();
    }
  });
});

describe('PATCH /v1/users/:id', () => {
  it('changes profile fields with If-Match, journals the diff, and refuses a stale version with 412', async () => {
    const user = await create({ username: uniqueId('pat'), skills: { refunds: 2 } });
    const res = await t.app.inject({ method: 'PATCH', url: `/v1/users/${user.id}`, headers: { ...admin, 'if-match': '"v1"' }, payload: { skills: { refunds: 3 }, teams: ['returns'], reason: 'training done' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers.etag).toBe('"v2"');
    expect(res.json()).toMatchObject({ skills: { refunds: 3 }, teams: ['returns'], version: 2 });
    expect((await journalOf(user.id))[1]).toMatchObject({ version: 2, type: 'user.updated', reason: 'training done', data: { skills: { from: { refunds: 2 }, to: { refunds: 3 } }, teams: { from: [], to: ['returns'] } } });

    const stale = await t.app.inject({ method: 'PATCH', url: `/v1/users/${user.id}`, headers: { ...admin, 'if-match': '"v1"' }, payload: { display_name: 'Late' } });
    expect(stale.statusCode).toBe(412);
    expect((await userRow(user.id))!.display_name).toBe('Someone');
  });

  it('refuses bad skills with 422 and changes nothing', async () => {
    const user = await create({ username: uniqueId('pbad') });
    const before = await userRow(user.id);
    const res = await t.app.inject({ method: 'PATCH', url: `/v1/users/${user.id}`, headers: admin, payload: { skills: { refunds: 6 }, capacity: { default: 0 } } });
    expect(res.statusCode).toBe(422);
    expect(res.json().errors.map((e: { pointer: string }) => e.pointer)).toEqual(['/skills/refunds', '/capacity/default']);
    expect(await userRow(user.id)).toEqual(before);
    expect(await journalOf(user.id)).toHaveLength(1);
  });

  it('answers 404 for an unknown user', async () => {
    const res = await t.app.inject({ method: 'PATCH', url: `/v1/users/${uniqueId('ghost')}`, headers: admin, payload: { display_name: 'Boo' } });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('USER_NOT_FOUND');
  });
});

describe('presence', () => {
  it('is set by the user themselves or a supervisor, journaled; another agent gets 403 and nothing changes', async () => {
    const agent = await createActor(db(), 'agent');
    const colleague = await createActor(db(), 'agent');
    const supervisor = await createActor(db(), 'supervisor');
    const self = await t.app.inject({ method: 'POST', url: `/v1/users/${agent.userId}/presence`, headers: agent.headers, payload: { presence: 'available' } });
    expect(self.statusCode, self.body).toBe(200);
    expect(self.json().presence).toBe('available');
    const refused = await t.app.inject({ method: 'POST', url: `/v1/users/${agent.userId}/presence`, headers: colleague.headers, payload: { presence: 'offline' } });
    expect(refused.statusCode).toBe(403);
    const bySupervisor = await t.app.inject({ method: 'POST', url: `/v1/users/${agent.userId}/presence`, headers: supervisor.headers, payload: { presence: 'away', reason: 'coaching session' } });
    expect(bySupervisor.statusCode).toBe(200);
    const journal = (await journalOf(agent.userId)).filter((e) => e.type === 'user.presence_changed');
    expect(journal).toMatchObject([
      { actor_id: agent.userId, actor_role: 'agent', reason: null, data: { from: 'offline', to: 'available' } },
      { actor_id: supervisor.userId, actor_role: 'supervisor', reason: 'coaching session', data: { from: 'available', to: 'away' } },
    ]);
    expect((await userRow(agent.userId))!.presence).toBe('away');
    // The journal route shows the same, to the user and to supervisors; not to colleagues.
    const page = await t.app.inject({ method: 'GET', url: `/v1/users/${agent.userId}/journal`, headers: agent.headers });
    expect(page.statusCode).toBe(200);
    expect(page.json().items.map((e: { type: string }) => e.type)).toEqual(['user.presence_changed', 'user.presence_changed', 'user.created']);
    expect((await t.app.inject({ method: 'GET', url: `/v1/users/${agent.userId}/journal`, headers: colleague.headers })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: `/v1/users/${agent.userId}/journal`, headers: supervisor.headers })).statusCode).toBe(200);
  });

  it('refuses an unknown presence (400) and the same presence again (422)', async () => {
    const agent = await createActor(db(), 'agent');
    expect((await t.app.inject({ method: 'POST', url: `/v1/users/${agent.userId}/presence`, headers: agent.headers, payload: { presence: 'lunch' } })).statusCode).toBe(400);
    const same = await t.app.inject({ method: 'POST', url: `/v1/users/${agent.userId}/presence`, headers: agent.headers, payload: { presence: 'offline' } });
    expect(same.statusCode).toBe(422);
    expect(same.json().errors[0].pointer).toBe('/presence');
    expect(await journalOf(agent.userId)).toHaveLength(1);
  });
});

describe('who sees whom', () => {
  it('agents read themselves in full and colleagues as a directory card; integrators get 403', async () => {
    const agent = await createActor(db(), 'agent');
    const colleague = await createActor(db(), 'agent', uniqueId('colleague'), ['billing']);
    const mine = await t.app.inject({ method: 'GET', url: `/v1/users/${agent.userId}`, headers: agent.headers });
    expect(mine.json()).toHaveProperty('capacity');
    expect(mine.headers.etag).toBe('"v1"');
    const card = await t.app.inject({ method: 'GET', url: `/v1/users/${colleague.userId}`, headers: agent.headers });
    expect(card.statusCode).toBe(200);
    expect(Object.keys(card.json()).sort()).toEqual(['disabled', 'display_name', 'id', 'presence', 'role', 'teams', 'username']);
    const list = await t.app.inject({ method: 'GET', url: '/v1/users?team=billing&limit=100', headers: agent.headers });
    expect(list.json().items.map((u: { id: string }) => u.id)).toContain(colleague.userId);
    const integrator = await createActor(db(), 'integrator');
    expect((await t.app.inject({ method: 'GET', url: '/v1/users', headers: integrator.headers })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: `/v1/users/${agent.userId}`, headers: integrator.headers })).statusCode).toBe(403);
  });

  it('hides disabled colleagues from agents, not from supervisors', async () => {
    const agent = await createActor(db(), 'agent');
    const supervisor = await createActor(db(), 'supervisor');
    const gone = await create({ username: uniqueId('gone') });
    await t.app.inject({ method: 'POST', url: `/v1/users/${gone.id}/disable`, headers: admin, payload: { reason: 'left' } });
    expect((await t.app.inject({ method: 'GET', url: `/v1/users/${gone.id}`, headers: agent.headers })).statusCode).toBe(404);
    const seen = await t.app.inject({ method: 'GET', url: `/v1/users/${gone.id}`, headers: supervisor.headers });
    expect(seen.json()).toMatchObject({ disabled: true });
    const list = await t.app.inject({ method: 'GET', url: '/v1/users?disabled=true&limit=100', headers: supervisor.headers });
    expect(list.json().items.map((u: { id: string }) => u.id)).toContain(gone.id);
  });

  it('pages the list with a cursor', async () => {
    const team = uniqueId('page-team');
    for (let i = 0; i < 3; i++) await create({ username: uniqueId('p'), teams: [team] });
    const first = await t.app.inject({ method: 'GET', url: `/v1/users?team=${team}&limit=2`, headers: admin });
    expect(first.json().items).toHaveLength(2);
    const second = await t.app.inject({ method: 'GET', url: `/v1/users?team=${team}&limit=2&cursor=${first.json().next_cursor}`, headers: admin });
    expect(second.json()).toMatchObject({ next_cursor: null });
    expect(second.json().items).toHaveLength(1);
  });
});

describe('API keys belong to a user or an integration', () => {
  it('a key for an unknown user id creates the user in the same transaction', async () => {
    const id = uniqueId('newbie');
    const res = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: { role: 'agent', user_id: id, name: 'desk', teams: ['social'] } });
    expect(res.statusCode, res.body).toBe(201);
    expect(await userRow(id)).toMatchObject({ id, username: id, role: 'agent', teams: ['social'], presence: 'offline', password_hash: null });
    expect(await journalOf(id)).toMatchObject([{ type: 'user.created', reason: 'created with an API key', actor_id: 'admin' }]);
    expect(await db().selectFrom('api_keys').select(['owner_kind', 'user_ref']).where('user_id', '=', id).execute()).toEqual([{ owner_kind: 'user', user_ref: id }]);
  });

  it("refuses a key above its user's role, or with other teams, and writes no key", async () => {
    const user = await create({ username: uniqueId('cap'), teams: ['billing'] });
    const above = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: { role: 'supervisor', user_id: user.id, name: 'x' } });
    expect(above.statusCode).toBe(422);
    expect(above.json()).toMatchObject({ code: 'KEY_OWNER_INVALID', errors: [{ pointer: '/role' }] });
    const teams = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: { role: 'agent', user_id: user.id, name: 'x', teams: ['social'] } });
    expect(teams.statusCode).toBe(422);
    expect(teams.json().errors[0].pointer).toBe('/teams');
    expect(await db().selectFrom('api_keys').select('id').where('user_id', '=', user.id).execute()).toEqual([]);
  });

  it('a key acts with its user\'s current teams and never above their current role', async () => {
    const user = await create({ username: uniqueId('demote'), role: 'supervisor' });
    const key = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: { role: 'supervisor', user_id: user.id, name: 'x' } });
    const headers = bearer(key.json().key);
    expect((await t.app.inject({ method: 'GET', url: '/v1/goals', headers })).statusCode).toBe(200);
    await t.app.inject({ method: 'PATCH', url: `/v1/users/${user.id}`, headers: admin, payload: { role: 'agent', teams: ['returns'], reason: 'moved back to the floor' } });
    const me = await t.app.inject({ method: 'GET', url: '/v1/me', headers });
    expect(me.json()).toMatchObject({ role: 'agent', teams: ['returns'] });
    expect((await t.app.inject({ method: 'GET', url: '/v1/goals', headers })).statusCode).toBe(403);
  });

  it('refuses a key for a disabled user (409)', async () => {
    const user = await create({ username: uniqueId('dis') });
    await t.app.inject({ method: 'POST', url: `/v1/users/${user.id}/disable`, headers: admin, payload: { reason: 'left' } });
    const res = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: { role: 'agent', user_id: user.id, name: 'x' } });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('USER_DISABLED');
  });

  it('an integrator key belongs to an integration (no user row), and may not be named after a user', async () => {
    const name = uniqueId('crm-sync');
    const res = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: { role: 'integrator', user_id: name, name: 'CRM' } });
    expect(res.statusCode).toBe(201);
    expect(await userRow(name)).toBeUndefined();
    expect(await db().selectFrom('api_keys').select(['owner_kind', 'user_ref']).where('user_id', '=', name).execute()).toEqual([{ owner_kind: 'integration', user_ref: null }]);
    const user = await create({ username: uniqueId('person') });
    const clash = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: { role: 'integrator', user_id: user.id, name: 'x' } });
    expect(clash.statusCode).toBe(422);
    expect(clash.json().errors[0].pointer).toBe('/user_id');
  });

  it('the database refuses a user key naming no user, and an integrator row marked as a user', async () => {
    const base = { prefix: 'tsk_x', name: 'raw', teams: [], revoked_at: null };
    await expect(db().insertInto('api_keys').values({ ...base, id: crypto.randomUUID(), key_hash: uniqueId('h1'), role: 'agent', user_id: uniqueId('nobody'), owner_kind: 'user' }).execute()).rejects.toThrow(/api_keys_user_ref_fk/);
    await expect(db().insertInto('api_keys').values({ ...base, id: crypto.randomUUID(), key_hash: uniqueId('h2'), role: 'integrator', user_id: uniqueId('i'), owner_kind: 'user' }).execute()).rejects.toThrow(/api_keys_owner_kind_role/);
  });
});
