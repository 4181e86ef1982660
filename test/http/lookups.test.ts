/**
 * Lookups a screen makes in one request, under the same access rules as the lists: names for
 * the user ids it shows (`GET /v1/users?ids=`), the cases of the tasks a worklist shows
 * (`GET /v1/cases?ids=`); and the case timeline's larger page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi } from '../support/case-api.js';
import { ADMIN_KEY, bearer, startTestApp, uniqueId } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let supervisor: Actor;
const TEAM = uniqueId('lookups');
const OTHER = uniqueId('elsewhere');

beforeAll(async () => {
  t = await startTestApp({ prefixSuffix: `-${uniqueId('lookups')}` });
  api = caseApi(t);
  supervisor = await createActor(t.database.db, 'supervisor');
});
afterAll(() => t.close());

async function createUser(displayName: string, teams: string[] = [TEAM]) {
  const res = await t.app.inject({ method: 'POST', url: '/v1/users', headers: bearer(ADMIN_KEY), payload: { username: uniqueId('u'), display_name: displayName, role: 'agent', teams } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string };
}

describe('GET /v1/users?ids=', () => {
  it('answers the named users an agent may see, as directory cards, and leaves out the disabled and the unknown', async () => {
    const ana = await createUser('Ana <b>Costa</b>');
    const ben = await createUser('Ben Okafor');
    const gone = await createUser('Gone Person');
    const disabled = await t.app.inject({ method: 'POST', url: `/v1/users/${gone.id}/disable`, headers: bearer(ADMIN_KEY), payload: { reason: 'left' } });
    expect(disabled.statusCode).toBe(200);
    const agent = await createActor(t.database.db, 'agent', ana.id, [TEAM]);

    const res = await t.app.inject({ method: 'GET', url: `/v1/users?ids=${ana.id},${ben.id},${gone.id},nobody-${uniqueId('x')}&limit=1`, headers: agent.headers });
    expect(res.statusCode, res.body).toBe(200);
    const items = res.json().items as Record<string, unknown>[];
    // `limit` does not cut a lookup short.
    expect(items.map((u) => u.id).sort()).toEqual([ana.id, ben.id].sort());
    expect(items.find((u) => u.id === ben.id)).toEqual({ id: ben.id, username: expect.any(String), display_name: 'Ben Okafor', role: 'agent', teams: [TEAM], presence: expect.any(String), disabled: false });
    // Names are data: sent as they were typed, for the UI to show as text.
    expect(items.find((u) => u.id === ana.id)!.display_name).toBe('Ana <b>Costa</b>');

    const asSupervisor = await t.app.inject({ method: 'GET', url: `/v1/users?ids=${gone.id}`, headers: supervisor.headers });
    expect(asSupervisor.json().items).toEqual([expect.objectContaining({ id: gone.id, disabled: true })]);
  });

  it('refuses more than 200 ids, naming the field', async () => {
    const ids = Array.from({ length: 201 }, (_, i) => `u${i}`).join(',');
    const res = await t.app.inject({ method: 'GET', url: `/v1/users?ids=${ids}`, headers: supervisor.headers });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect(res.json().errors).toEqual([expect.objectContaining({ pointer: '/ids' })]);
  });
});

describe('GET /v1/cases?ids=', () => {
  it('answers the named cases the caller may see, however many cases are open', async () => {
    const mine = await api.open(supervisor, { template: 'billing-dispute', title: 'In my team', queue: TEAM, case_file: { account: { id: 'acc-l' } } });
    const theirs = await api.open(supervisor, { template: 'billing-dispute', title: 'Another team', queue: OTHER, case_file: { account: { id: 'acc-l' } } });
    const agent = await createActor(t.database.db, 'agent', undefined, [TEAM]);
    const res = await t.app.inject({ method: 'GET', url: `/v1/cases?ids=${mine.id},${theirs.id}&limit=1`, headers: agent.headers });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().items.map((c: { id: string }) => c.id)).toEqual([mine.id]);
    const all = await t.app.inject({ method: 'GET', url: `/v1/cases?ids=${mine.id},${theirs.id}`, headers: supervisor.headers });
    expect(all.json().items.map((c: { id: string }) => c.id).sort()).toEqual([mine.id, theirs.id].sort());
  });

  it('refuses more than 100 ids, naming the field', async () => {
    const ids = Array.from({ length: 101 }, (_, i) => `c${i}`).join(',');
    const res = await t.app.inject({ method: 'GET', url: `/v1/cases?ids=${ids}`, headers: supervisor.headers });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual([expect.objectContaining({ pointer: '/ids' })]);
  });
});

describe('GET /v1/cases/{id}/timeline', () => {
  it('takes pages of up to 500 entries, and refuses 501 naming the field', async () => {
    const c = await api.open(supervisor, { template: 'billing-dispute', title: 'Timeline page', queue: TEAM, case_file: { account: { id: 'acc-l' } } });
    for (let i = 0; i < 3; i++) await api.addContent(supervisor, c.id, { kind: 'note', data: { text: `note ${i}` } });
    const ok = await t.app.inject({ method: 'GET', url: `/v1/cases/${c.id}/timeline?limit=500`, headers: supervisor.headers });
    expect(ok.statusCode, ok.body).toBe(200);
    const page = ok.json();
    expect(page.next_cursor).toBeNull();
    expect(page.items.filter((e: { type: string }) => e.type.startsWith('content.')).length).toBe(3);
    const tooMany = await t.app.inject({ method: 'GET', url: `/v1/cases/${c.id}/timeline?limit=501`, headers: supervisor.headers });
    expect(tooMany.statusCode).toBe(400);
    expect(JSON.stringify(tooMany.json())).toContain('limit');
  });
});
