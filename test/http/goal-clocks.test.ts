/**
 * GET /v1/cases/:id says how each goal's clock runs (goal_clocks): business time of the
 * template's calendar or calendar time, and whether it is paused and why (the case is on hold;
 * a business clock outside working hours). The UI's countdowns read it; so can an integrator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi } from '../support/case-api.js';
import { startTestApp, uniqueId } from '../support/platform.js';

/** Berlin wall-clock time in January 2031 (UTC+1): Friday 10, Saturday 11, Monday 13. */
const berlin = (day: number, hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return Date.UTC(2031, 0, day, h - 1, m);
};

let clock = berlin(10, '10:00');
let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let supervisor: Actor;

beforeAll(async () => {
  t = await startTestApp({ now: () => new Date(clock), prefixSuffix: `-${uniqueId('clocks')}` });
  api = caseApi(t);
  supervisor = await createActor(t.database.db, 'supervisor');
});
afterAll(() => t.close());

describe('goal clocks on the case view', () => {
  it('a template with a business calendar: business time in its zone, running in working hours, paused outside them', async () => {
    clock = berlin(10, '10:00');
    const c = await api.open(supervisor, { template: 'callback-request', title: 'Call me', case_file: { callback: { phone: '+49 30 1234567' } } });
    const during = (await api.get(supervisor, c.id)) as unknown as { goal_clocks: Record<string, unknown>; goals: { key: string }[] };
    expect(Object.keys(during.goal_clocks).sort()).toEqual(during.goals.map((g) => g.key).sort());
    for (const clockView of Object.values(during.goal_clocks)) {
      expect(clockView).toEqual({ kind: 'business', zone: 'Europe/Berlin', paused: false, paused_reason: null, paused_detail: null });
    }
    clock = berlin(11, '12:00'); // Saturday
    const weekend = (await api.get(supervisor, c.id)) as unknown as { goal_clocks: Record<string, { paused: boolean; paused_reason: string; paused_detail: string }> };
    for (const clockView of Object.values(weekend.goal_clocks)) {
      expect(clockView).toMatchObject({ kind: 'business', paused: true, paused_reason: 'outside_working_hours' });
      expect(clockView.paused_detail).toContain('Europe/Berlin');
    }
  });

  it('a template without a calendar: calendar time; on hold the clocks are paused with the hold reason, and run again on resume', async () => {
    clock = berlin(13, '10:00');
    const c = await api.open(supervisor, { template: 'billing-dispute', title: 'Charge', case_file: { account: { id: 'acc-1' } } });
    const open = (await api.get(supervisor, c.id)) as unknown as { goal_clocks: Record<string, { kind: string; paused: boolean }> };
    expect(Object.values(open.goal_clocks).every((x) => x.kind === 'calendar' && !x.paused)).toBe(true);

    api.expectStatus(await api.call(supervisor, 'POST', `/v1/cases/${c.id}/hold`, { reason: 'waiting for the invoice copy' }), 200);
    const held = (await api.get(supervisor, c.id)) as unknown as { goal_clocks: Record<string, unknown> };
    for (const x of Object.values(held.goal_clocks)) {
      expect(x).toEqual({ kind: 'calendar', zone: null, paused: true, paused_reason: 'case_on_hold', paused_detail: 'waiting for the invoice copy' });
    }
    api.expectStatus(await api.call(supervisor, 'POST', `/v1/cases/${c.id}/resume`, {}), 200);
    const resumed = (await api.get(supervisor, c.id)) as unknown as { goal_clocks: Record<string, { paused: boolean }> };
    expect(Object.values(resumed.goal_clocks).some((x) => x.paused)).toBe(false);
  });

  it('is described in the OpenAPI document', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const schema = JSON.stringify(doc.paths['/v1/cases/{id}'].get.responses['200']);
    expect(schema).toContain('goal_clocks');
    expect(schema).toContain('outside_working_hours');
  });
});
