import { describe, expect, it } from 'vitest';
import type { CaseState, Goal } from '../../src/cases/types.js';
import type { BusinessCalendar } from '../../src/templates/types.js';
import { SLA_TEMPLATE, TEMPLATE, TIMER, createHarness, effectsOf, journalTypes, openTask, outbox } from './harness.js';

const SLA_ACTOR = { id: 'sla', role: 'system' };

const HOUR = 3600_000;
const replied = (c: CaseState): Goal => c.goals.find((g) => g.key === 'replied')!;

function opened() {
  const h = createHarness({ template: SLA_TEMPLATE });
  const c = h.open({ ownerId: 'ana' });
  return { h, c };
}

describe('goal SLA points', () => {
  it('a goal with an SLA gets a warning and a breach timer; the goal keeps both ids and is on track', () => {
    const h = createHarness({ template: SLA_TEMPLATE });
    const d = h.ok(undefined, { type: 'case.open', input: { title: 't', caseFile: { orderId: 'A-1' } } });
    const goal = replied(d.case);
    expect(effectsOf(d.effects, 'timer.schedule').map((e) => e.timer)).toEqual([
      {
        id: goal.warningTimerId,
        kind: 'goal_deadline',
        goalKey: 'replied',
        point: 'warning',
        dueAt: '2026-01-05T12:00:00.000Z',
        event: { type: 'tessera.goal.warning', goalKey: 'replied' },
      },
      {
        id: goal.deadlineTimerId,
        kind: 'goal_deadline',
        goalKey: 'replied',
        point: 'breach',
        dueAt: '2026-01-05T13:00:00.000Z',
        event: { type: 'tessera.goal.breach', goalKey: 'replied' },
      },
    ]);
    expect(goal.warningTimerId).not.toBe(goal.deadlineTimerId);
    expect(goal.sla).toBe('on_track');
  });

  it('the warning point makes the goal at risk and notifies the role, nothing else', () => {
    const { h, c } = opened();
    h.advance(3 * HOUR);
    const d = h.ok(c, { type: 'timer.fire', timerId: replied(c).warningTimerId! }, TIMER);
    const goal = replied(d.case);
    expect(goal).toMatchObject({ status: 'open', sla: 'at_risk', atRiskAt: '2026-01-05T12:00:00.000Z' });
    expect(goal.warningTimerId).toBeUndefined();
    expect(goal.deadlineTimerId).toBe(replied(c).deadlineTimerId);
    expect(journalTypes(d)).toEqual(['goal.at_risk', 'sla.notified']);
    expect(d.journal[0]!.actor).toEqual(TIMER);
    expect(d.journal[1]).toMatchObject({ actor: SLA_ACTOR, data: { goalKey: 'replied', point: 'warning', role: 'supervisor' } });
    expect(effectsOf(d.effects, 'outbox.emit').map((e) => e.event)).toEqual([
      {
        id: expect.any(String),
        type: 'goal.at_risk',
        occurredAt: '2026-01-05T12:00:00.000Z',
        data: { caseId: c.id, goalKey: 'replied', title: 'Reply to the customer', deadlineAt: '2026-01-05T13:00:00.000Z', point: 'warning', role: 'supervisor' },
      },
    ]);
    expect(effectsOf(d.effects, 'timer.schedule')).toEqual([]);
    expect(effectsOf(d.effects, 'timer.cancel')).toEqual([]);
    expect(d.case).toMatchObject({ priority: 'normal', queue: 'complaints', ownerId: 'ana', version: c.version + 1 });
  });

  it('the breach point breaches the goal and runs the escalations in order: priority, reassign, notify', () => {
    const { h, c } = opened();
    h.advance(4 * HOUR);
    const d = h.ok(c, { type: 'timer.fire', timerId: replied(c).deadlineTimerId! }, TIMER);
    const goal = replied(d.case);
    expect(goal).toMatchObject({ status: 'open', sla: 'breached', deadlineReachedAt: '2026-01-05T13:00:00.000Z' });
    // The warning never came back (both overdue, breach first): it is cancelled, not left to fire.
    expect(goal.warningTimerId).toBeUndefined();
    expect(effectsOf(d.effects, 'timer.cancel').map((e) => e.timerId)).toEqual([replied(c).warningTimerId]);
    expect(d.case.priority).toBe('urgent');
    expect(d.case.queue).toBe('complaint-leads');
    expect(d.case.ownerId).toBeUndefined();
    expect(journalTypes(d)).toEqual(['goal.breached', 'case.priority_changed', 'case.reassigned', 'sla.notified']);
    expect(d.journal.slice(1).every((j) => j.actor.id === 'sla' && j.actor.role === 'system')).toBe(true);
    expect(d.journal[1]!.data).toEqual({ goalKey: 'replied', point: 'breach', from: 'normal', to: 'urgent' });
    expect(d.journal[2]!.data).toEqual({
      goalKey: 'replied',
      point: 'breach',
      role: 'supervisor',
      from: { ownerId: 'ana', queue: 'complaints' },
      to: { ownerId: null, queue: 'complaint-leads' },
    });
    expect(outbox(d.effects)).toEqual(['case.priority_changed', 'case.reassigned', 'goal.breached']);
    expect(effectsOf(d.effects, 'outbox.emit')[2]!.event.data).toEqual({
      caseId: c.id,
      goalKey: 'replied',
      title: 'Reply to the customer',
      deadlineAt: '2026-01-05T13:00:00.000Z',
      point: 'breach',
      queue: 'complaint-leads',
    });
    // Open tasks keep their assignment, as with case.reassign.
    expect(openTask(d.case, 'triage').assignment).toEqual(openTask(c, 'triage').assignment);
  });

  it('setPriority never lowers the priority: an urgent case stays urgent and the step is journaled as skipped', () => {
    const h = createHarness({ template: SLA_TEMPLATE });
    const c = h.open({ priority: 'urgent' });
    const d = h.ok(c, { type: 'timer.fire', timerId: replied(c).deadlineTimerId! }, TIMER);
    expect(d.case.priority).toBe('urgent');
    expect(d.journal[1]).toMatchObject({ type: 'sla.escalation_skipped', actor: SLA_ACTOR, data: { action: 'setPriority' } });
    expect(journalTypes(d)).not.toContain('case.priority_changed');
  });

  it('a reassign escalation without a queue moves nothing and says so', () => {
    const h = createHarness({
      template: { ...SLA_TEMPLATE, slas: [{ goal: 'replied', onBreach: [{ action: 'reassign', role: 'supervisor' }] }] },
    });
    const c = h.open({ ownerId: 'ana' });
    const d = h.ok(c, { type: 'timer.fire', timerId: replied(c).deadlineTimerId! }, TIMER);
    expect(d.case).toMatchObject({ ownerId: 'ana', queue: 'complaints' });
    expect(d.journal.map((j) => [j.type, j.data['why']])).toEqual([
      ['goal.breached', undefined],
      ['sla.escalation_skipped', 'no queue to reassign to'],
    ]);
    expect(outbox(d.effects)).toEqual([]);
  });

  it('achieving the goal cancels both pending SLA timers; they are stale if they come back', () => {
    const { h, c } = opened();
    const t = h.ok(c, { type: 'task.complete', taskId: openTask(c, 'triage').id, output: { severity: 'low' } }).case;
    h.advance(HOUR);
    const d = h.ok(t, { type: 'event.send', event: { type: 'REPLY' } });
    const goal = replied(d.case);
    expect(goal).toMatchObject({ status: 'achieved', sla: 'on_track' });
    expect(goal.achievedLate).toBeUndefined();
    expect(goal.warningTimerId).toBeUndefined();
    expect(goal.deadlineTimerId).toBeUndefined();
    expect(effectsOf(d.effects, 'timer.cancel').map((e) => e.timerId)).toEqual(
      expect.arrayContaining([replied(c).warningTimerId, replied(c).deadlineTimerId]),
    );
    expect(effectsOf(d.effects, 'outbox.emit').find((e) => e.event.type === 'goal.achieved')!.event.data).toEqual({
      caseId: c.id,
      goalKey: 'replied',
      title: 'Reply to the customer',
    });
    const owner = createHarness({ template: { ...SLA_TEMPLATE, resolution: 'owner' } });
    const o = owner.open();
    const achieved = owner.ok(owner.ok(o, { type: 'task.complete', taskId: openTask(o, 'triage').id, output: { severity: 'low' } }).case, {
      type: 'event.send',
      event: { type: 'REPLY' },
    }).case;
    for (const timerId of [replied(o).warningTimerId!, replied(o).deadlineTimerId!]) {
      const stale = owner.ok(achieved, { type: 'timer.fire', timerId }, TIMER);
      expect(stale.case).toBe(achieved);
      expect(stale.effects).toEqual([]);
      expect(stale.journal).toEqual([]);
      expect(stale.result).toMatchObject({ noop: true });
    }
  });

  it('a goal achieved after its deadline is achievedLate (and breached), whether or not the breach timer came back', () => {
    const { h, c } = opened();
    const t = h.ok(c, { type: 'task.complete', taskId: openTask(c, 'triage').id, output: { severity: 'low' } }).case;
    h.advance(5 * HOUR);
    // The breach timer is late (not fired yet): achieving still counts as late and cancels it.
    const d = h.ok(t, { type: 'event.send', event: { type: 'REPLY' } });
    expect(replied(d.case)).toMatchObject({ status: 'achieved', achievedLate: true, sla: 'breached' });
    expect(d.journal.find((j) => j.type === 'goal.achieved')!.data).toEqual({ goalKey: 'replied', achievedLate: true });
    expect(effectsOf(d.effects, 'outbox.emit').find((e) => e.event.type === 'goal.achieved')!.event.data).toMatchObject({ achievedLate: true });
    expect(effectsOf(d.effects, 'timer.cancel').map((e) => e.timerId)).toContain(replied(c).deadlineTimerId);
    // After the breach fired: late too.
    const breached = h.ok(t, { type: 'timer.fire', timerId: replied(t).deadlineTimerId! }, TIMER).case;
    const late = h.ok(breached, { type: 'event.send', event: { type: 'REPLY' } });
    expect(replied(late.case)).toMatchObject({ status: 'achieved', achievedLate: true, sla: 'breached' });
  });

  it('a fired warning is stale the second time', () => {
    const { h, c } = opened();
    const warned = h.ok(c, { type: 'timer.fire', timerId: replied(c).warningTimerId! }, TIMER).case;
    const again = h.ok(warned, { type: 'timer.fire', timerId: replied(c).warningTimerId! }, TIMER);
    expect(again.case).toBe(warned);
    expect(again.effects).toEqual([]);
    expect(again.result).toEqual({ noop: true, reason: 'timer_not_pending' });
  });

  it('moving the deadline of an at-risk goal far out cancels and re-arms both points: back on track', () => {
    const { h, c } = opened();
    h.advance(3 * HOUR);
    const warned = h.ok(c, { type: 'timer.fire', timerId: replied(c).warningTimerId! }, TIMER).case;
    const d = h.ok(warned, { type: 'goal.update', goalKey: 'replied', deadlineAt: '2026-01-06T13:00:00Z', reason: 'customer asked for tomorrow' });
    const goal = replied(d.case);
    expect(goal.sla).toBe('on_track');
    expect(goal.atRiskAt).toBeUndefined();
    expect(effectsOf(d.effects, 'timer.cancel').map((e) => e.timerId)).toEqual([replied(c).deadlineTimerId]);
    expect(effectsOf(d.effects, 'timer.schedule').map((e) => [e.timer.id, e.timer.point, e.timer.dueAt])).toEqual([
      [goal.warningTimerId, 'warning', '2026-01-06T12:00:00.000Z'],
      [goal.deadlineTimerId, 'breach', '2026-01-06T13:00:00.000Z'],
    ]);
    // The old breach timer is now stale.
    const stale = h.ok(d.case, { type: 'timer.fire', timerId: replied(c).deadlineTimerId! }, TIMER);
    expect(stale.result).toMatchObject({ noop: true });
  });

  it('moving the deadline of an at-risk goal inside its warning window keeps it at risk: no second warning', () => {
    const { h, c } = opened();
    h.advance(3 * HOUR);
    const warned = h.ok(c, { type: 'timer.fire', timerId: replied(c).warningTimerId! }, TIMER).case;
    const d = h.ok(warned, { type: 'goal.update', goalKey: 'replied', deadlineAt: '2026-01-05T12:30:00Z', reason: 'promised earlier' });
    const goal = replied(d.case);
    expect(goal).toMatchObject({ sla: 'at_risk', atRiskAt: '2026-01-05T12:00:00.000Z' });
    expect(goal.warningTimerId).toBeUndefined();
    expect(effectsOf(d.effects, 'timer.schedule').map((e) => e.timer.point)).toEqual(['breach']);
  });

  it('moving an on-track deadline so that its warning point has passed arms the warning due now', () => {
    const { h, c } = opened();
    h.advance(HOUR); // 10:00Z
    const d = h.ok(c, { type: 'goal.update', goalKey: 'replied', deadlineAt: '2026-01-05T10:30:00Z', reason: 'VIP' });
    expect(replied(d.case).sla).toBe('on_track');
    expect(effectsOf(d.effects, 'timer.schedule').map((e) => [e.timer.point, e.timer.dueAt])).toEqual([
      ['warning', '2026-01-05T09:30:00.000Z'],
      ['breach', '2026-01-05T10:30:00.000Z'],
    ]);
  });

  it('moving the deadline of a breached goal lets it breach again', () => {
    const { h, c } = opened();
    h.advance(4 * HOUR);
    const breached = h.ok(c, { type: 'timer.fire', timerId: replied(c).deadlineTimerId! }, TIMER).case;
    const d = h.ok(breached, { type: 'goal.update', goalKey: 'replied', deadlineAt: '2026-01-06T13:00:00Z', reason: 'renegotiated' });
    const goal = replied(d.case);
    expect(goal.sla).toBe('on_track');
    expect(goal.deadlineReachedAt).toBeUndefined();
    expect(goal.deadlineTimerId).toBeDefined();
    expect(goal.warningTimerId).toBeDefined();
  });

  it('an ad-hoc goal has a breach point but no warning and no escalations', () => {
    const { h, c } = opened();
    const d = h.ok(c, {
      type: 'goal.add',
      goal: { key: 'refund', title: 'Refund', condition: 'has(milestones.refunded)', required: false, deadlineAt: '2026-01-05T18:00:00Z' },
    });
    const goal = d.case.goals.find((g) => g.key === 'refund')!;
    expect(effectsOf(d.effects, 'timer.schedule').map((e) => e.timer.point)).toEqual(['breach']);
    const fired = h.ok(d.case, { type: 'timer.fire', timerId: goal.deadlineTimerId! }, TIMER);
    expect(journalTypes(fired)).toEqual(['goal.breached']);
    expect(fired.effects).toEqual([]);
  });
});

describe('deadlines in working time', () => {
  const NINE_TO_FIVE: [string, string][] = [['09:00', '17:00']];
  const BERLIN: BusinessCalendar = {
    zone: 'Europe/Berlin',
    week: { mon: NINE_TO_FIVE, tue: NINE_TO_FIVE, wed: NINE_TO_FIVE, thu: NINE_TO_FIVE, fri: NINE_TO_FIVE },
  };

  it('a template calendar makes goal deadlines count working hours; the warning point is the deadline minus warnBefore', () => {
    const h = createHarness({
      template: {
        ...SLA_TEMPLATE,
        calendar: BERLIN,
        goals: [{ key: 'replied', title: 'Reply', condition: 'has(milestones.replied)', required: true, deadline: 'PT8H' }],
      },
    });
    // Opened Monday 10:00 Berlin: 7h on Monday, 1h on Tuesday -> Tuesday 10:00 Berlin.
    const c = h.open();
    expect(replied(c).deadlineAt).toBe('2026-01-06T09:00:00.000Z');
    const d = h.ok(undefined, { type: 'case.open', input: { title: 't', caseFile: { orderId: 'A-1' } } });
    expect(effectsOf(d.effects, 'timer.schedule').map((e) => [e.timer.point, e.timer.dueAt])).toEqual([
      ['warning', '2026-01-06T08:00:00.000Z'],
      ['breach', '2026-01-06T09:00:00.000Z'],
    ]);
  });

  it("a goal's deadlineCalendar wins over the template's; a goal without one under no calendar stays elapsed time", () => {
    const h = createHarness({
      template: {
        ...TEMPLATE,
        goals: [
          { key: 'replied', title: 'Reply', condition: 'has(milestones.replied)', required: true, deadline: 'P1D', deadlineCalendar: BERLIN },
          { key: 'triaged', title: 'Triage', condition: 'has(caseFile.triage)', required: false, deadline: 'P1D' },
        ],
      },
    });
    const c = h.open();
    expect(c.goals.map((g) => [g.key, g.deadlineAt])).toEqual([
      ['replied', '2026-01-06T09:00:00.000Z'], // one working day: Tuesday 10:00 Berlin
      ['triaged', '2026-01-06T09:00:00.000Z'], // 24 hours
    ]);
    const friday = createHarness({
      template: { ...TEMPLATE, goals: [{ key: 'replied', title: 'Reply', condition: 'has(milestones.replied)', required: true, deadline: 'P1D', deadlineCalendar: BERLIN }] },
    });
    friday.advance(4 * 24 * HOUR); // Friday 10:00 Berlin: one working day later is Monday 10:00
    expect(friday.open().goals[0]!.deadlineAt).toBe('2026-01-12T09:00:00.000Z');
  });
});
