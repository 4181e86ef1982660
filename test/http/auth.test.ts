import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, bearer, startTestApp, uniqueId } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

async function countKeysFor(userId: string): Promise<number> {
  const rows = await t.database.db.selectFrom('api_keys').select('id').where('user_id', '=', userId).execute();
  return rows.length;
}

describe('API keys', () => {
  it('answers 401 problem+json without a key', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/me' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'UNAUTHENTICATED', status: 401, type: 'https://tessera.dev/problems/unauthenticated' });
    expect(res.json().detail).toContain('Authorization: Bearer');
  });

  it('answers 401 for an unknown key', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer('tsk_not-a-real-key') });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('UNAUTHENTICATED');
  });

  it('lets the bootstrap admin create a key that then authenticates with its role', async () => {
    const userId = uniqueId('agent');
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: bearer(ADMIN_KEY),
      payload: { role: 'agent', user_id: userId, name: 'desk 4' },
    });
    expect(created.statusCode).toBe(201);
    const { key, id } = created.json();
    expect(key).toMatch(/^tsk_/);

    const row = await t.database.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.key_hash).not.toContain(key); // stored hashed, never in clear
    expect(row.role).toBe('agent');

    const me = await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(key) });
    expect(me.json()).toEqual({ user_id: userId, role: 'agent', key_id: id, teams: [] });
  });

  it('answers 403 for a role that may not act, and changes nothing', async () => {
    const agentId = uniqueId('agent');
    const agent = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: bearer(ADMIN_KEY),
      payload: { role: 'agent', user_id: agentId, name: 'a' },
    });
    const victim = uniqueId('victim');
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: bearer(agent.json().key),
      payload: { role: 'admin', user_id: victim, name: 'escalate' },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'FORBIDDEN' });
    expect(res.json().detail).toContain('admin');
    expect(await countKeysFor(victim)).toBe(0);
  });

  it('stops accepting a revoked key', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: bearer(ADMIN_KEY),
      payload: { role: 'supervisor', user_id: uniqueId('sup'), name: 's' },
    });
    const { key, id } = created.json();
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/api-keys/${id}`, headers: bearer(ADMIN_KEY) })).statusCode).toBe(204);
    const res = await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(key) });
    expect(res.statusCode).toBe(401);
    const again = await t.app.inject({ method: 'DELETE', url: `/v1/api-keys/${id}`, headers: bearer(ADMIN_KEY) });
    expect(again.statusCode).toBe(404);
  });
});
