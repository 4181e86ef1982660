/**
 * The shipped `callback-request` template counts working time (Berlin, Monday to Friday
 * 08:00-18:00), end to end over HTTP: deadlines, warning points, task due times and ISO `after`
 * delays land in working time, and a hold over a weekend gives the goals back the working time
 * they had left. The test owns the clock (commands decide at it); no worker fires these timers.
 */
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows } from '../support/case-api.js';
import { startTestApp, uniqueId } from '../support/platform.js';

/** Berlin wall-clock time in January 2031 (UTC+1) as a UTC ISO string. Friday 10, Monday 13, Tuesday 14, Wednesday 15. */
const berlin = (day: number, hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return new Date(Date.UTC(2031, 0, day, h - 1, m)).toISOString();
};

/** Inside the template's working hours: a weekday between 08:00 and 18:00 in Berlin. */
const inWorkingTime = (iso: string) => {
  const local = DateTime.fromISO(iso, { zone: 'Europe/Berlin' });
  const minutes = local.hour * 60 + local.minute;
  return local.weekday <= 5 && minutes >= 8 * 60 && minutes <= 18 * 60;
};

let clock = Date.parse(berlin(10, '16:30'));
let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let rows: ReturnType<typeof caseRows>;
let supervisor: Actor;
let agent: Actor;

beforeAll(async () => {
  t = await startTestApp({ now: () => new Date(clock), prefixSuffix: `-${uniqueId('callback')}` });
  api = caseApi(t);
  rows = caseRows(t);
  supervisor = await createActor(t.database.db, 'supervisor');
  agent = await createActor(t.database.db, 'agent', uniqueId('agent'), ['callbacks']);
});
afterAll(() => t.close());

const deadlines = (c: { goals: { key: string; deadline_at: string | null }[] }) => Object.fromEntries(c.goals.map((g) => [g.key, g.deadline_at]));

async function pendingSlaTimers(caseId: string) {
  return (await rows.timers(caseId))
    .filter((x) => x.status === 'pending' && x.kind === 'goal_deadline')
    .map((x) => [x.goal_key, (x.event as { type: string }).type, new Date(x.due_at).toISOString()])
    .sort((a, b) => String(a[2]).localeCompare(String(b[2])));
}

describe('callback-request: a shipped template in working time', () => {
  it('opens with deadlines in working time and keeps the working time left through a hold over the weekend', async () => {
    clock = Date.parse(berlin(10, '16:30')); // Friday
    const c = await api.open(agent, { template: 'callback-request', title: 'Call me about my bill', case_file: { callback: { phone: '+49 30 1234567' } } });
    // Two working hours from Friday 16:30: 90 minutes on Friday, 30 on Monday.
    expect(deadlines(c)).toEqual({ customer_contacted: berlin(13, '08:30'), resolution_confirmed: berlin(14, '16:30') });
    for (const d of Object.values(deadlines(c))) expect(inWorkingTime(d!)).toBe(true);
    expect(await pendingSlaTimers(c.id)).toEqual([
      ['customer_contacted', 'tessera.goal.warning', berlin(13, '08:00')], // 30 working minutes before
      ['customer_contacted', 'tessera.goal.breach', berlin(13, '08:30')],
      ['resolution_confirmed', 'tessera.goal.breach', berlin(14, '16:30')],
    ]);
    // The call task is due in one working hour.
    expect(c.tasks.map((task) => [task.title, task.due_at])).toEqual([['Contact the customer privately', berlin(10, '17:30')]]);

    clock = Date.parse(berlin(10, '17:00'));
    const held = await api.call(supervisor, 'POST', `/v1/cases/${c.id}/hold`, { reason: 'customer asked to be called on Monday' });
    api.expectStatus(held, 200);
    expect(await pendingSlaTimers(c.id)).toEqual([]);

    clock = Date.parse(berlin(13, '09:00')); // Monday
    const resumed = api.expectStatus(await api.call(supervisor, 'POST', `/v1/cases/${c.id}/resume`, { reason: 'Monday' }), 200).json();
    // 90 working minutes were left for the call (Friday 17-18, Monday 08:00-08:30): Monday 10:30.
    // 19.5 working hours were left for the resolution: Monday 09-18, Tuesday 08-18, Wednesday 08:00-08:30.
    expect(deadlines(resumed)).toEqual({ customer_contacted: berlin(13, '10:30'), resolution_confirmed: berlin(15, '08:30') });
    expect(await pendingSlaTimers(c.id)).toEqual([
      ['customer_contacted', 'tessera.goal.warning', berlin(13, '10:00')],
      ['customer_contacted', 'tessera.goal.breach', berlin(13, '10:30')],
      ['resolution_confirmed', 'tessera.goal.breach', berlin(15, '08:30')],
    ]);
    const journal = await rows.journal(c.id);
    const resumedEntry = journal.find((j) => j.type === 'case.resumed')!;
    expect((resumedEntry.data as { deadlinesMoved: unknown[] }).deadlinesMoved).toEqual([
      { goalKey: 'customer_contacted', from: berlin(13, '08:30'), to: berlin(13, '10:30') },
      { goalKey: 'resolution_confirmed', from: berlin(14, '16:30'), to: berlin(15, '08:30') },
    ]);
  });

  it("a failed call at 17:30 is retried after one working hour: the next morning at 08:30", async () => {
    clock = Date.parse(berlin(13, '17:00')); // Monday
    const c = await api.open(agent, { template: 'callback-request', title: 'Call me back' });
    const task = c.tasks[0]!;
    clock = Date.parse(berlin(13, '17:30'));
    await api.complete(agent, task.id, { channel: 'phone', reached: false });
    const delays = (await rows.timers(c.id)).filter((x) => x.kind === 'fragment_delay' && x.status === 'pending');
    expect(delays.map((x) => [(x.event as { type: string }).type, new Date(x.due_at).toISOString()])).toEqual([
      ['xstate.after.PT1H.contact-customer.waitingToRetry', berlin(14, '08:30')],
    ]);
  });
});
