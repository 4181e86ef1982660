/**
 * Working time through every hold: under a business calendar a deadline keeps the *working* time
 * it had left when the case was put on hold, and warning points, task due dates and ISO `after`
 * delays count working time too. Calendar: Berlin, Monday to Friday 09:00-17:00 (UTC+1 in January).
 */
import { describe, expect, it } from 'vitest';
import type { CaseState, Goal } from '../../src/cases/types.js';
import type { FragmentDefinition } from '../../src/fragments/types.js';
import type { BusinessCalendar, CaseTemplate } from '../../src/templates/types.js';
import { INTAKE_V1, SLA_TEMPLATE, TIMER, createHarness, effectsOf, openTask } from './harness.js';

const NINE_TO_FIVE: [string, string][] = [['09:00', '17:00']];
const BERLIN: BusinessCalendar = {
  zone: 'Europe/Berlin',
  week: { mon: NINE_TO_FIVE, tue: NINE_TO_FIVE, wed: NINE_TO_FIVE, thu: NINE_TO_FIVE, fri: NINE_TO_FIVE },
};

/** Berlin wall-clock time in January 2026 (UTC+1) as a UTC ISO string. */
const berlin = (day: number, hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return new Date(Date.UTC(2026, 0, day, h - 1, m)).toISOString();
};
// January 2026: Monday 5, Friday 9, Monday 12, Tuesday 13, Thursday 15.

/** `replied` due five working days after open, at risk eight working hours before. */
const WORKING: CaseTemplate = {
  ...SLA_TEMPLATE,
  calendar: BERLIN,
  goals: [{ key: 'replied', title: 'Reply to the customer', condition: 'has(milestones.replied)', required: true, deadline: 'P5D' }],
  slas: [{ ...SLA_TEMPLATE.slas![0]!, warnBefore: 'PT8H' }],
};

const replied = (c: CaseState): Goal => c.goals.find((g) => g.key === 'replied')!;

function openedMonday1600() {
  const h = createHarness({ template: WORKING });
  h.at(berlin(5, '16:00'));
  const c = h.open({ ownerId: 'ana' });
  expect(replied(c).deadlineAt).toBe(berlin(12, '16:00'));
  return { h, c };
}

describe('hold and resume under a business calendar', () => {
  it('a deadline of Monday 16:00 held from Friday 17:00 to Monday 09:00 is Monday 16:00 again (7 working hours were left)', () => {
    const { h, c } = openedMonday1600();
    h.at(berlin(9, '17:00'));
    const held = h.ok(c, { type: 'case.hold', reason: 'waiting for the supplier' }).case;
    h.at(berlin(12, '09:00'));
    const d = h.ok(held, { type: 'case.resume' });
    // Not Thursday 08:00, which moving it by the 64 hours held would give.
    expect(replied(d.case).deadlineAt).toBe(berlin(12, '16:00'));
    expect(d.result).toMatchObject({ deadlinesMoved: [{ goalKey: 'replied', from: berlin(12, '16:00'), to: berlin(12, '16:00') }] });
    // Both points re-armed in working time: the warning 8 working hours before, Friday 16:00... which has passed,
    // so it is due at once (the goal was never warned); the breach at the deadline.
    expect(effectsOf(d.effects, 'timer.schedule').map((e) => [e.timer.point, e.timer.dueAt])).toEqual([
      ['warning', berlin(9, '16:00')],
      ['breach', berlin(12, '16:00')],
    ]);
  });

  it('a hold inside working hours gives back exactly the working time it took', () => {
    const { h, c } = openedMonday1600();
    // Held Wednesday 14:00, resumed Thursday 11:00: 5 working hours passed (3 on Wednesday, 2 on Thursday).
    h.at(berlin(7, '14:00'));
    const held = h.ok(c, { type: 'case.hold', reason: 'waiting for the customer' }).case;
    h.at(berlin(8, '11:00'));
    const d = h.ok(held, { type: 'case.resume' });
    // 26 working hours were left at the hold; counted from Thursday 11:00 they end Tuesday 13:00.
    expect(replied(d.case).deadlineAt).toBe(berlin(13, '13:00'));
    expect(effectsOf(d.effects, 'timer.schedule').map((e) => [e.timer.point, e.timer.dueAt])).toEqual([
      ['warning', berlin(12, '13:00')],
      ['breach', berlin(13, '13:00')],
    ]);
  });

  it('two holds over two weekends still end at the working time first promised', () => {
    const { h, c } = openedMonday1600();
    h.at(berlin(9, '12:00')); // Friday noon
    let state = h.ok(c, { type: 'case.hold', reason: 'first' }).case;
    h.at(berlin(12, '12:00')); // Monday noon: Friday afternoon's 5 working hours were held
    state = h.ok(state, { type: 'case.resume' }).case;
    // 12 working hours left at the hold: Monday 12-17 (5), Tuesday 09-16 (7).
    expect(replied(state).deadlineAt).toBe(berlin(13, '16:00'));
    h.at(berlin(13, '15:00')); // one working hour left
    state = h.ok(state, { type: 'case.hold', reason: 'second' }).case;
    h.at(berlin(15, '16:30')); // Thursday 16:30
    state = h.ok(state, { type: 'case.resume' }).case;
    expect(replied(state).deadlineAt).toBe(berlin(16, '09:30'));
  });

  it('without a calendar a hold still moves the deadline by the time held (elapsed time)', () => {
    const h = createHarness({ template: SLA_TEMPLATE });
    const c = h.open();
    const before = Date.parse(replied(c).deadlineAt!);
    const held = h.ok(c, { type: 'case.hold', reason: 'weekend' }).case;
    h.advance(64 * 3600_000);
    expect(Date.parse(replied(h.ok(held, { type: 'case.resume' }).case).deadlineAt!)).toBe(before + 64 * 3600_000);
  });
});

describe('working time beyond goal deadlines', () => {
  it('the warning point is warnBefore of working time before the deadline', () => {
    const h = createHarness({ template: { ...WORKING, goals: [{ ...WORKING.goals[0]!, deadline: 'PT8H' }], slas: [{ ...WORKING.slas![0]!, warnBefore: 'PT1H' }] } });
    h.at(berlin(5, '09:30'));
    const d = h.ok(undefined, { type: 'case.open', input: { title: 't', caseFile: { orderId: 'A-1' } } });
    // Due Tuesday 09:30; one working hour before is Monday 16:30, not Tuesday 08:30.
    expect(effectsOf(d.effects, 'timer.schedule').filter((e) => e.timer.kind === 'goal_deadline').map((e) => [e.timer.point, e.timer.dueAt])).toEqual([
      ['warning', berlin(5, '16:30')],
      ['breach', berlin(6, '09:30')],
    ]);
  });

  it("a task's due date counts working time under the template's calendar", () => {
    const h = createHarness({ template: WORKING });
    h.at(berlin(9, '16:30')); // Friday
    const c = h.open();
    // Triage is due PT1H: half an hour on Friday, half an hour on Monday.
    expect(openTask(c, 'triage').dueAt).toBe(berlin(12, '09:30'));
    const elapsed = createHarness({ template: SLA_TEMPLATE });
    elapsed.at(berlin(9, '16:30'));
    expect(openTask(elapsed.open(), 'triage').dueAt).toBe(berlin(9, '17:30'));
  });

  const REMINDER: FragmentDefinition = {
    key: 'reminder',
    version: 1,
    title: 'Remind, then give up',
    machine: {
      id: 'reminder',
      initial: 'waiting',
      states: {
        waiting: { after: { PT2H: 'reminded', 600000: 'pinged' } },
        reminded: { type: 'final' },
        pinged: { type: 'final' },
      },
    },
  };

  it('ISO `after` delays count working time under the calendar; millisecond delays stay elapsed time', () => {
    const template: CaseTemplate = { ...WORKING, defaultFragments: ['reminder@1'], discretionaryFragments: [] };
    const h = createHarness({ template, definitions: [REMINDER, INTAKE_V1] });
    h.at(berlin(9, '16:00')); // Friday
    const d = h.ok(undefined, { type: 'case.open', input: { title: 't', caseFile: { orderId: 'A-1' } } });
    const delays = effectsOf(d.effects, 'timer.schedule').filter((e) => e.timer.kind === 'fragment_delay');
    expect(delays.map((e) => [e.timer.event!.type, e.timer.dueAt]).sort()).toEqual([
      ['xstate.after.600000.reminder.waiting', berlin(9, '16:10')],
      ['xstate.after.PT2H.reminder.waiting', berlin(12, '10:00')],
    ]);
    // The same fragment under a template without a calendar: both elapsed.
    const plain = createHarness({ template: { ...template, calendar: undefined } as CaseTemplate, definitions: [REMINDER, INTAKE_V1] });
    plain.at(berlin(9, '16:00'));
    const p = plain.ok(undefined, { type: 'case.open', input: { title: 't', caseFile: { orderId: 'A-1' } } });
    expect(effectsOf(p.effects, 'timer.schedule').filter((e) => e.timer.kind === 'fragment_delay').map((e) => e.timer.dueAt).sort()).toEqual([
      berlin(9, '16:10'),
      berlin(9, '18:00'),
    ]);
    // The working-time delay fires as usual when its timer comes back.
    const timerId = delays.find((e) => e.timer.event!.type.includes('PT2H'))!.timer.id;
    h.at(berlin(12, '10:00'));
    expect(h.ok(d.case, { type: 'timer.fire', timerId }, TIMER).case.fragments[0]!.status).toBe('done');
  });
});
