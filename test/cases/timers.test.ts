import { describe, expect, it } from 'vitest';
import { TIMER, createHarness, effectsOf, fragmentByKey, journalTypes, openTask, outbox } from './harness.js';

function triaged() {
  const h = createHarness();
  const c = h.open();
  const d = h.ok(c, { type: 'task.complete', taskId: openTask(c, 'triage').id, output: { severity: 'low' } });
  return { h, c: d.case, d };
}

describe('timers', () => {
  it('entering a state with `after` schedules a fragment_delay timer and records it on the fragment', () => {
    const { h, c, d } = triaged();
    const [schedule] = effectsOf(d.effects, 'timer.schedule');
    const intake = fragmentByKey(c, 'intake');
    expect(schedule!.timer).toMatchObject({
      kind: 'fragment_delay',
      fragmentId: intake.id,
      dueAt: new Date(h.now().getTime() + 60_000).toISOString(),
      event: { type: expect.stringMatching(/^xstate\.after\./) },
    });
    expect(schedule!.timer.id).not.toContain(':');
    expect(Object.values(intake.pendingTimers ?? {})).toEqual([schedule!.timer.id]);
  });

  it('leaving the state cancels its timer', () => {
    const { h, c } = triaged();
    const timerId = Object.values(fragmentByKey(c, 'intake').pendingTimers ?? {})[0]!;
    const d = h.ok(c, { type: 'event.send', event: { type: 'REPLY' } });
    expect(effectsOf(d.effects, 'timer.cancel').map((e) => e.timerId)).toContain(timerId);
    expect(fragmentByKey(d.case, 'intake').pendingTimers).toEqual({});
  });

  it('timer.fire delivers the delayed event: the fragment escalates', () => {
    const { h, c } = triaged();
    const timerId = Object.values(fragmentByKey(c, 'intake').pendingTimers ?? {})[0]!;
    h.advance(60_000);
    const d = h.ok(c, { type: 'timer.fire', timerId }, TIMER);
    const intake = fragmentByKey(d.case, 'intake');
    expect(intake.activeStates).toEqual(['escalated']);
    expect(intake.pendingTimers).toEqual({});
    expect(d.case.priority).toBe('high');
    expect(outbox(d.effects)).toContain('complaint.escalated');
    expect(effectsOf(d.effects, 'outbox.emit').find((e) => e.event.type === 'complaint.escalated')!.event.data).toEqual({
      caseId: c.id,
      fragmentId: intake.id,
      level: 1,
    });
    expect(journalTypes(d)).toEqual(expect.arrayContaining(['timer.fired', 'case.priority_changed']));
    expect(d.case.version).toBe(c.version + 1);
  });

  it('a stale timer (state already left) is a no-op: same case object, nothing to write', () => {
    const { h, c } = triaged();
    const timerId = Object.values(fragmentByKey(c, 'intake').pendingTimers ?? {})[0]!;
    const replied = h.ok(c, { type: 'event.send', event: { type: 'REPLY' } }).case;
    const d = h.ok(replied, { type: 'timer.fire', timerId }, TIMER);
    expect(d.case).toBe(replied);
    expect(d.effects).toEqual([]);
    expect(d.journal).toEqual([]);
    expect(d.result).toMatchObject({ noop: true });
  });

  it('a timer that already fired is a no-op the second time', () => {
    const { h, c } = triaged();
    const timerId = Object.values(fragmentByKey(c, 'intake').pendingTimers ?? {})[0]!;
    const fired = h.ok(c, { type: 'timer.fire', timerId }, TIMER).case;
    const again = h.ok(fired, { type: 'timer.fire', timerId }, TIMER);
    expect(again.case).toBe(fired);
    expect(again.effects).toEqual([]);
    expect(again.result).toMatchObject({ noop: true });
  });

  it('an unknown timer is a no-op', () => {
    const { h, c } = triaged();
    const d = h.ok(c, { type: 'timer.fire', timerId: 'never-armed' }, TIMER);
    expect(d.case).toBe(c);
    expect(d.result).toEqual({ noop: true, reason: 'timer_not_pending' });
  });

  it('a goal deadline timer (no SLA in the template) journals goal.breached once, with no escalation', () => {
    const h = createHarness();
    const c = h.open();
    const goal = c.goals.find((g) => g.key === 'replied')!;
    h.advance(4 * 3600_000);
    const d = h.ok(c, { type: 'timer.fire', timerId: goal.deadlineTimerId! }, TIMER);
    expect(journalTypes(d)).toEqual(['goal.breached']);
    expect(d.journal[0]).toMatchObject({ actor: TIMER, data: { goalKey: 'replied', deadlineAt: goal.deadlineAt } });
    expect(d.effects).toEqual([]);
    const reached = d.case.goals.find((g) => g.key === 'replied')!;
    expect(reached.deadlineReachedAt).toBe(h.now().toISOString());
    expect(reached.status).toBe('open');
    expect(reached.sla).toBe('breached');
    const again = h.ok(d.case, { type: 'timer.fire', timerId: goal.deadlineTimerId! }, TIMER);
    expect(again.result).toMatchObject({ noop: true });
  });

  it('a timer firing on a closed case is a no-op, not an error', () => {
    const h = createHarness();
    const c = h.open();
    const timerId = c.goals[0]!.deadlineTimerId!;
    const closed = h.ok(c, { type: 'case.close', reason: 'duplicate' }).case;
    const d = h.ok(closed, { type: 'timer.fire', timerId }, TIMER);
    expect(d.case).toBe(closed);
    expect(d.result).toEqual({ noop: true, reason: 'case_not_open' });
  });
});
