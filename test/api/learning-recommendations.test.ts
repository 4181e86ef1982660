/**
 * Next-fragment recommendations (issue 13) on real Postgres: resolved cases are indexed as
 * situations, similar ones are summed, the fragment they added and then met their goals on time
 * with ranks first with its support and reason; feedback is recorded and a later add counts as taken.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { createLearningCatalog, type LearningCatalog } from '../support/learning-catalog.js';
import { startTestApp } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let cat: LearningCatalog;
let supervisor: Actor;
let agent: Actor;
let clock = Date.parse('2026-03-02T09:00:00Z');
const DAY = 86_400_000;

beforeAll(async () => {
  cat = await createLearningCatalog();
  t = await startTestApp({ templatesDir: cat.dir, prefixSuffix: '-learn-rec', now: () => new Date(clock) });
  supervisor = await createActor(t.database.db, 'supervisor');
  agent = await createActor(t.database.db, 'agent');
});
afterAll(async () => {
  await t?.close();
});

const call = (actor: Actor, method: 'GET' | 'POST', url: string, payload?: unknown) =>
  t.app.inject({ method, url, headers: actor.headers, ...(payload !== undefined ? { payload: payload as object } : {}) });

async function open(tier: string, owner: Actor = supervisor) {
  const res = await call(owner, 'POST', '/v1/cases', { template: cat.template, title: `rec ${tier}`, case_file: { tier }, owner_id: owner.userId });
  expect(res.statusCode).toBe(201);
  return res.json().id as string;
}

/** A resolved case: optionally adds the extra check; `late` finishes after the one-day deadline. */
async function history(tier: string, withExtra: boolean, late: boolean) {
  const id = await open(tier);
  if (withExtra) expect((await call(supervisor, 'POST', `/v1/cases/${id}/fragments`, { ref: `${cat.extra}@1` })).statusCode).toBe(201);
  if (late) clock += 2 * DAY;
  const done = await call(supervisor, 'POST', `/v1/cases/${id}/events`, { type: 'FINISH' });
  expect(done.json().status).toBe('resolved');
  clock += 60_000;
  return id;
}

describe('recommendations', () => {
  it('ranks what similar resolved cases added, with support, rates and a reason; feedback and a later add count as taken', async () => {
    // Gold cases that added the extra check met their goal on time; gold cases without it were late.
    const onTime: string[] = [];
    for (let i = 0; i < 4; i++) onTime.push(await history('gold', true, false));
    for (let i = 0; i < 3; i++) await history('gold', false, true);
    // Silver cases: never added it, on time.
    for (let i = 0; i < 2; i++) await history('silver', false, false);

    const openGold = await open('gold', agent);
    const res = await call(agent, 'GET', `/v1/cases/${openGold}/recommendations`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.situation).toEqual(['file.tier=gold', `ran:${cat.finish}`]);
    // The 7 gold cases share all of it; the silver ones half (weight 0.5^4).
    expect(body.similar_cases).toBe(9);
    const [top] = body.items;
    expect(top).toMatchObject({ id: `${cat.extra}@1`, fragment: `${cat.extra}@1`, offered_by_template: true, rank: 1, support: { similar_cases: 9, added: 4, added_on_time: 4 }, feedback: null });
    // Weighted: N = 7 + 2/16 = 7.125, A = 4, M_f = 4, M = 4 + 2/16.
    expect(top.added_rate).toBeCloseTo((4 + 1) / (7.125 + 2), 3);
    expect(top.on_time_rate).toBeCloseTo((4 + 1) / (4 + 2), 3);
    expect(top.on_time_rate_without).toBeCloseTo((0.125 + 1) / (3.125 + 2), 3);
    expect(top.reason).toContain('4 of 9 similar resolved cases');
    expect(top.reason).toContain('file.tier=gold');

    // The index holds the resolved cases with their situation and outcome.
    const indexed = await t.database.db.selectFrom('learning_cases').select(['case_id', 'items', 'on_time']).where('template_key', '=', cat.template).execute();
    expect(indexed).toHaveLength(9);
    expect(indexed.find((r) => r.case_id === onTime[0])).toMatchObject({ items: ['file.tier=gold', `ran:${cat.extra}`, `ran:${cat.finish}`], on_time: true });
    expect(indexed.filter((r) => !r.on_time)).toHaveLength(3);

    // Feedback: accepted, then the agent adds it -> taken.
    const fb = await call(agent, 'POST', `/v1/cases/${openGold}/recommendations/${cat.extra}@1/feedback`, { decision: 'accepted' });
    expect(fb.statusCode).toBe(201);
    expect(fb.json()).toMatchObject({ fragment: `${cat.extra}@1`, decision: 'accepted', rank: 1, by: agent.userId });
    const shown = (await call(agent, 'GET', `/v1/cases/${openGold}/recommendations`)).json().items[0];
    expect(shown.feedback).toMatchObject({ decision: 'accepted', by: agent.userId });
    let report = (await call(supervisor, 'GET', `/v1/reports/recommendations?template=${cat.template}`)).json();
    expect(report).toEqual({ feedback: 1, accepted: 1, dismissed: 0, taken: 0, accepted_taken: 0, dismissed_taken: 0 });
    expect((await call(agent, 'POST', `/v1/cases/${openGold}/fragments`, { ref: `${cat.extra}@1` })).statusCode).toBe(201);
    report = (await call(supervisor, 'GET', `/v1/reports/recommendations?template=${cat.template}`)).json();
    expect(report).toEqual({ feedback: 1, accepted: 1, dismissed: 0, taken: 1, accepted_taken: 1, dismissed_taken: 0 });
    // Once in the plan it is no longer recommended.
    expect((await call(agent, 'GET', `/v1/cases/${openGold}/recommendations`)).json().items).toEqual([]);
  });

  it('refuses bad feedback with problem+json and records nothing', async () => {
    const id = await open('silver', agent);
    const count = async () => Number((await t.database.db.selectFrom('recommendation_feedback').select((eb) => eb.fn.countAll<string>().as('n')).where('case_id', '=', id).executeTakeFirstOrThrow()).n);
    const unknown = await call(agent, 'POST', `/v1/cases/${id}/recommendations/no-such-fragment@1/feedback`, { decision: 'accepted' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers['content-type']).toContain('application/problem+json');
    const badDecision = await call(agent, 'POST', `/v1/cases/${id}/recommendations/${cat.extra}@1/feedback`, { decision: 'maybe' });
    expect(badDecision.statusCode).toBe(400);
    expect((await call(agent, 'GET', `/v1/cases/${id}/recommendations?top=0`)).statusCode).toBe(400);
    expect((await call(agent, 'GET', '/v1/cases/no-such-case/recommendations')).statusCode).toBe(404);
    // An agent who may not see the case gets 404 too.
    const stranger = await createActor(t.database.db, 'agent');
    expect((await call(stranger, 'GET', `/v1/cases/${id}/recommendations`)).statusCode).toBe(404);
    expect(await count()).toBe(0);
    const dismissed = await call(agent, 'POST', `/v1/cases/${id}/recommendations/${cat.extra}@1/feedback`, { decision: 'dismissed', reason: 'silver customers do not need it' });
    expect(dismissed.statusCode).toBe(201);
    expect(await count()).toBe(1);
  });
});
