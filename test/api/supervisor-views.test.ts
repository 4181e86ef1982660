/**
 * Supervisor views over HTTP: open goals by deadline, deadlines due soon, SLA attainment. Cases
 * come from the shipped templates; the test owns the clock (commands and views read it) and
 * fires SLA points through the command runner, as the timer job does. Each test works in its
 * own queue, so goals of other test files never enter its lists.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, expectProblem } from '../support/case-api.js';
import { startTestApp, uniqueId } from '../support/platform.js';

const T0 = Date.parse('2031-03-03T08:00:00.000Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (ms: number) => new Date(ms).toISOString();

let clock = T0;
let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let rows: ReturnType<typeof caseRows>;
let supervisor: Actor;
let admin: Actor;
let agent: Actor;
let integrator: Actor;

beforeAll(async () => {
  // A private BullMQ prefix: no worker anywhere fires this file's timers; the test does.
  t = await startTestApp({ now: () => new Date(clock), prefixSuffix: `-${uniqueId('views')}` });
  api = caseApi(t);
  rows = caseRows(t);
  supervisor = await createActor(t.database.db, 'supervisor');
  admin = await createActor(t.database.db, 'admin');
  agent = await createActor(t.database.db, 'agent');
  integrator = await createActor(t.database.db, 'integrator');
});
afterAll(() => t.close());

interface GoalItem {
  case_id: string;
  goal_key: string;
  deadline_at: string;
  sla: string | null;
  at_risk_at: string | null;
  breached_at: string | null;
  queue: string | null;
  owner_id: string | null;
  case_status: string;
  priority: string;
  [key: string]: unknown;
}

async function page(actor: Actor, url: string): Promise<{ items: GoalItem[]; next_cursor: string | null }> {
  return api.expectStatus(await api.call(actor, 'GET', url), 200).json();
}

/** Every page of a list, following next_cursor; returns the pages. */
async function allPages(actor: Actor, url: string) {
  const pages: GoalItem[][] = [];
  let cursor: string | null = null;
  do {
    const sep = url.includes('?') ? '&' : '?';
    const p = await page(actor, cursor ? `${url}${sep}cursor=${encodeURIComponent(cursor)}` : url);
    pages.push(p.items);
    cursor = p.next_cursor;
  } while (cursor);
  return pages;
}

const keys = (items: GoalItem[]) => items.map((g) => `${g.case_id}/${g.goal_key}`);

async function open(template: string, queue: string, ownerId?: string) {
  return api.open(supervisor, { template, title: `${template} in ${queue}`, queue, ...(ownerId ? { owner_id: ownerId } : {}) });
}

/** Fires the pending SLA point (`warning` | `breach`) of a goal, as the timer job would. */
async function firePoint(caseId: string, goalKey: string, point: 'warning' | 'breach') {
  const type = point === 'warning' ? 'tessera.goal.warning' : 'tessera.goal.breach';
  const timer = (await rows.timers(caseId)).find(
    (r) => r.goal_key === goalKey && r.status === 'pending' && (r.event as { type: string }).type === type,
  );
  expect(timer, `pending ${point} timer of ${goalKey}`).toBeDefined();
  const [fired] = await t.core.runner.fireTimers([{ timerId: timer!.id, caseId }]);
  expect(fired!.outcome).toBe('applied');
}

describe('GET /v1/goals', () => {
  it('lists open goals soonest deadline first, the same across cursor pages, and follows a moved deadline', async () => {
    clock = T0;
    const queue = uniqueId('q');
    const ownerA = uniqueId('owner');
    const ownerB = uniqueId('owner');
    const c1 = await open('product-repair', queue, ownerA);
    clock = T0 + HOUR;
    const c2 = await open('product-repair', queue, ownerA);
    clock = T0 + 2 * HOUR;
    const c3 = await open('product-repair', queue, ownerB);

    // product-repair: rma_issued P1D, customer_informed P3D, supplier_verdict P14D, working_device_returned P21D.
    const goalOrder = ['rma_issued', 'customer_informed', 'supplier_verdict', 'working_device_returned'];
    const expected = goalOrder.flatMap((g) => [c1, c2, c3].map((c) => `${c.id}/${g}`));

    const pages = await allPages(supervisor, `/v1/goals?queue=${queue}&limit=5`);
    expect(pages.map((p) => p.length)).toEqual([5, 5, 2]);
    expect(keys(pages.flat())).toEqual(expected);
    const first = pages[0]![0]!;
    expect(first).toEqual({
      case_id: c1.id,
      case_title: `product-repair in ${queue}`,
      template: { key: 'product-repair', version: 1 },
      queue,
      owner_id: ownerA,
      priority: c1.priority.value,
      case_status: 'open',
      goal_key: 'rma_issued',
      goal_title: 'RMA issued within a day',
      required: true,
      ad_hoc: false,
      status: 'open',
      sla: 'on_track',
      deadline_at: at(T0 + DAY),
      at_risk_at: null,
      breached_at: null,
      opened_at: at(T0),
      updated_at: at(T0),
    });

    // Filters narrow, they do not reorder; an admin sees the same.
    expect(keys((await page(admin, `/v1/goals?queue=${queue}&owner=${ownerB}`)).items)).toEqual(goalOrder.map((g) => `${c3.id}/${g}`));
    expect((await page(supervisor, `/v1/goals?queue=${queue}&template=billing-dispute`)).items).toEqual([]);
    expect(keys((await page(supervisor, `/v1/goals?template=product-repair&owner=${ownerA}`)).items)).toEqual(
      goalOrder.flatMap((g) => [c1, c2].map((c) => `${c.id}/${g}`)),
    );

    // A supervisor moves c3's last deadline to the front: the list follows at once.
    clock = T0 + 3 * HOUR;
    await api.patchGoal(supervisor, c3.id, 'working_device_returned', { deadline_at: at(T0 + 5 * HOUR), reason: 'VIP customer' });
    const moved = (await page(supervisor, `/v1/goals?queue=${queue}&limit=2`)).items;
    expect(keys(moved)).toEqual([`${c3.id}/working_device_returned`, `${c1.id}/rma_issued`]);
    expect(moved[0]).toMatchObject({ deadline_at: at(T0 + 5 * HOUR), updated_at: at(T0 + 3 * HOUR) });

    // Reassigning the case moves its goals to the new queue; closing a case takes them off the list.
    const otherQueue = uniqueId('q');
    await api.reassign(supervisor, c2.id, { queue: otherQueue, reason: 'rebalance' });
    expect(keys((await page(supervisor, `/v1/goals?queue=${otherQueue}`)).items)).toEqual(goalOrder.map((g) => `${c2.id}/${g}`));
    await api.close(supervisor, c1.id, { status: 'cancelled', reason: 'duplicate' });
    expect(keys((await page(supervisor, `/v1/goals?queue=${queue}`)).items)).toEqual([
      `${c3.id}/working_device_returned`,
      ...goalOrder.filter((g) => g !== 'working_device_returned').map((g) => `${c3.id}/${g}`),
    ]);
  });

  it('filters by SLA state as the warning and breach points fire', async () => {
    clock = T0;
    const queue = uniqueId('q');
    const c = await open('billing-dispute', queue);
    // billing-dispute: identity_verified PT4H (warn 1h before), decision_made P2D (warn 8h), customer_notified P3D.
    const slaOf = async (sla: string) => keys((await page(supervisor, `/v1/goals?queue=${queue}&sla=${sla}`)).items);
    expect(await slaOf('on_track')).toEqual([`${c.id}/identity_verified`, `${c.id}/decision_made`, `${c.id}/customer_notified`]);
    expect(await slaOf('at_risk')).toEqual([]);

    clock = T0 + 3 * HOUR;
    await firePoint(c.id, 'identity_verified', 'warning');
    const atRisk = (await page(supervisor, `/v1/goals?queue=${queue}&sla=at_risk`)).items;
    expect(keys(atRisk)).toEqual([`${c.id}/identity_verified`]);
    expect(atRisk[0]).toMatchObject({ sla: 'at_risk', at_risk_at: at(T0 + 3 * HOUR), breached_at: null });
    expect(await slaOf('on_track')).toEqual([`${c.id}/decision_made`, `${c.id}/customer_notified`]);

    clock = T0 + 4 * HOUR;
    await firePoint(c.id, 'identity_verified', 'breach');
    expect(await slaOf('at_risk')).toEqual([]);
    const breached = (await page(supervisor, `/v1/goals?queue=${queue}&sla=breached`)).items;
    expect(breached).toHaveLength(1);
    expect(breached[0]).toMatchObject({ goal_key: 'identity_verified', sla: 'breached', at_risk_at: at(T0 + 3 * HOUR), breached_at: at(T0 + 4 * HOUR) });

    // Several states at once: repeat the parameter.
    clock = T0 + 40 * HOUR;
    await firePoint(c.id, 'decision_made', 'warning');
    expect(keys((await page(supervisor, `/v1/goals?queue=${queue}&sla=at_risk&sla=breached`)).items)).toEqual([
      `${c.id}/identity_verified`,
      `${c.id}/decision_made`,
    ]);
  });

  it('shows held cases unless asked for open ones only', async () => {
    clock = T0;
    const queue = uniqueId('q');
    const held = await open('billing-dispute', queue);
    const running = await open('billing-dispute', queue);
    api.expectStatus(await api.call(supervisor, 'POST', `/v1/cases/${held.id}/hold`, { reason: 'waiting for the invoice' }), 200);
    const caseIds = async (status: string) => [...new Set((await page(supervisor, `/v1/goals?queue=${queue}${status}`)).items.map((g) => g.case_id))];
    expect((await caseIds('')).sort()).toEqual([held.id, running.id].sort());
    expect(await caseIds('&status=open')).toEqual([running.id]);
    expect(await caseIds('&status=on_hold')).toEqual([held.id]);
    const heldGoal = (await page(supervisor, `/v1/goals?queue=${queue}&status=on_hold&limit=1`)).items[0];
    expect(heldGoal).toMatchObject({ case_status: 'on_hold', status: 'open' });
  });
});

describe('GET /v1/goals/due', () => {
  it('lists open goals whose deadline falls in [now, now + N hours], soonest first', async () => {
    clock = T0;
    const queue = uniqueId('q');
    const billing = await open('billing-dispute', queue); // +4h, +48h, +72h
    const repair = await open('product-repair', queue); // +24h, +72h, +14d, +21d
    const due = async (hours: number, extra = '') =>
      keys((await page(supervisor, `/v1/goals/due?within_hours=${hours}&queue=${queue}${extra}`)).items);

    expect(await due(3)).toEqual([]);
    expect(await due(4)).toEqual([`${billing.id}/identity_verified`]);
    expect(await due(48)).toEqual([`${billing.id}/identity_verified`, `${repair.id}/rma_issued`, `${billing.id}/decision_made`]);
    expect(await due(48, '&template=product-repair')).toEqual([`${repair.id}/rma_issued`]);

    // Two pages of two and one.
    const pages = await allPages(supervisor, `/v1/goals/due?within_hours=48&queue=${queue}&limit=2`);
    expect(pages.map(keys)).toEqual([[`${billing.id}/identity_verified`, `${repair.id}/rma_issued`], [`${billing.id}/decision_made`]]);

    // Five hours later the identity deadline has passed: overdue goals are not "due", they are breached.
    clock = T0 + 5 * HOUR;
    expect(await due(24)).toEqual([`${repair.id}/rma_issued`]);
  });
});

describe('GET /v1/reports/sla-attainment', () => {
  it('counts each goal once, in the period of its outcome, per template and per queue', async () => {
    clock = T0;
    const queue = uniqueId('q');
    const repair = await open('product-repair', queue); // rma +24h, informed +72h, verdict +14d, returned +21d
    const billing = await open('billing-dispute', queue); // identity +4h, decision +48h, notified +72h
    const cancelled = await open('billing-dispute', queue);
    await api.close(supervisor, cancelled.id, { status: 'cancelled', reason: 'opened by mistake' });

    // Two ad-hoc goals due at T0+2h, achieved by a reassignment: one on time, one late.
    for (const [key, owner] of [['quick', 'done-on-time'], ['slow', 'done-late']] as const) {
      await api.addGoal(supervisor, repair.id, {
        key,
        title: `${key} goal`,
        condition: `has(case.ownerId) && case.ownerId == '${owner}'`,
        required: false,
        deadline_at: at(T0 + 2 * HOUR),
      });
    }
    clock = T0 + HOUR;
    await api.reassign(supervisor, repair.id, { owner_id: 'done-on-time' });
    clock = T0 + 3 * HOUR;
    await api.reassign(supervisor, repair.id, { owner_id: 'done-late' });
    const goals = (await api.get(supervisor, repair.id)).goals;
    expect(goals.filter((g) => g.status === 'achieved').map((g) => [g.key, (g as unknown as { achieved_late: boolean }).achieved_late])).toEqual([
      ['quick', false],
      ['slow', true],
    ]);

    clock = T0 + 2 * DAY + 4 * HOUR; // rma (+24h), identity (+4h), decision (+48h) passed; informed, notified (+72h) ahead
    const report = async (query: string) =>
      api.expectStatus(await api.call(supervisor, 'GET', `/v1/reports/sla-attainment?queue=${queue}&${query}`), 200).json();
    const week = `from=${at(T0 - 8 * HOUR)}&to=${at(T0 + 7 * DAY)}`;

    const byTemplate = await report(`${week}&group_by=template`);
    expect(byTemplate).toEqual({
      from: at(T0 - 8 * HOUR),
      to: at(T0 + 7 * DAY),
      group_by: 'template',
      generated_at: at(clock),
      groups: [
        { key: 'billing-dispute', due: 2, achieved_on_time: 0, achieved_late: 0, breached_open: 2, pending: 1, attainment: 0 },
        { key: 'product-repair', due: 3, achieved_on_time: 1, achieved_late: 1, breached_open: 1, pending: 1, attainment: 0.3333 },
      ],
      total: { due: 5, achieved_on_time: 1, achieved_late: 1, breached_open: 3, pending: 2, attainment: 0.2 },
    });

    const byQueue = await report(`${week}&group_by=queue`);
    expect(byQueue.groups).toEqual([{ key: queue, ...byTemplate.total }]);

    // A period starting after the on-time achievement (T0+1h) and before the late one (T0+3h).
    const later = await report(`from=${at(T0 + 2 * HOUR)}&to=${at(T0 + 7 * DAY)}&template=product-repair`);
    expect(later.groups).toEqual([
      { key: 'product-repair', due: 2, achieved_on_time: 0, achieved_late: 1, breached_open: 1, pending: 1, attainment: 0 },
    ]);
    // Nothing in a period before anything happened.
    expect((await report(`from=${at(T0 - 30 * DAY)}&to=${at(T0 - DAY)}`)).total).toEqual({
      due: 0,
      achieved_on_time: 0,
      achieved_late: 0,
      breached_open: 0,
      pending: 0,
      attainment: null,
    });
    void billing;
  });
});

describe('who may look, and bad parameters', () => {
  it('are described in the OpenAPI document, under the supervisor tag', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    for (const route of ['/v1/goals', '/v1/goals/due', '/v1/reports/sla-attainment']) {
      expect(doc.paths[route]?.get?.tags, route).toEqual(['supervisor']);
    }
    const params = (doc.paths['/v1/goals/due'].get.parameters as { name: string; required?: boolean }[]).map((p) => [p.name, p.required === true]);
    expect(params).toEqual(expect.arrayContaining([['within_hours', true], ['limit', false], ['sla', false], ['cursor', false]]));
  });

  it('answers 403 to agents and integrators', async () => {
    for (const actor of [agent, integrator]) {
      for (const url of ['/v1/goals', '/v1/goals/due?within_hours=4', `/v1/reports/sla-attainment?from=${at(T0)}&to=${at(T0 + DAY)}`]) {
        const problem = expectProblem(await api.call(actor, 'GET', url), 403, 'FORBIDDEN');
        expect(problem.detail).toContain('supervisor, admin');
      }
    }
  });

  it.each([
    ['/v1/goals?limit=101', '/limit', 'must be <= 100'],
    ['/v1/goals?limit=0', '/limit', 'must be >= 1'],
    ['/v1/goals?sla=late', '/sla/0', 'must be one of'],
    ['/v1/goals?status=closed', '/status/0', 'must be'],
    ['/v1/goals?colour=red', '/colour', 'is not a known field'],
    ['/v1/goals?cursor=bm90LWEtY3Vyc29y', '/cursor', 'is not one this API returned'],
    ['/v1/goals/due', '/within_hours', 'is required'],
    ['/v1/goals/due?within_hours=0', '/within_hours', 'must be >= 1'],
    ['/v1/goals/due?within_hours=721', '/within_hours', 'must be <= 720'],
    ['/v1/goals/due?within_hours=soon', '/within_hours', 'must be integer'],
    ['/v1/reports/sla-attainment?to=2031-03-04T00:00:00Z', '/from', 'is required'],
    ['/v1/reports/sla-attainment?from=yesterday&to=2031-03-04T00:00:00Z', '/from', 'must match format "date-time"'],
    ['/v1/reports/sla-attainment?from=2031-03-04T00:00:00Z&to=2031-03-04T00:00:00Z', '/to', 'must be after from'],
    ['/v1/reports/sla-attainment?from=2031-03-04T00:00:00Z&to=2031-03-01T00:00:00Z', '/to', 'must be after from'],
    ['/v1/reports/sla-attainment?from=2030-01-01T00:00:00Z&to=2031-01-03T00:00:00Z', '/to', 'at most 366 days'],
    ['/v1/reports/sla-attainment?from=2031-03-01T00:00:00Z&to=2031-03-04T00:00:00Z&group_by=owner', '/group_by', 'must be'],
  ])('GET %s is a 400 naming %s', async (url, pointer, detail) => {
    const problem = expectProblem(await api.call(supervisor, 'GET', url), 400, 'VALIDATION_FAILED');
    expect(problem.errors).toEqual(expect.arrayContaining([expect.objectContaining({ pointer, in: 'querystring', detail: expect.stringContaining(detail) })]));
    expect(problem.detail).toContain(pointer);
  });
});
