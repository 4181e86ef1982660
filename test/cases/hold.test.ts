import { describe, expect, it } from 'vitest';
import type { CaseState, Goal } from '../../src/cases/types.js';
import { SLA_TEMPLATE, TEMPLATE, TIMER, createHarness, effectsOf, fragmentByKey, journalTypes, openTask, outbox } from './harness.js';

const HOUR = 3600_000;
const replied = (c: CaseState): Goal => c.goals.find((g) => g.key === 'replied')!;

/** Opened at 09:00Z, triaged (the intake fragment now waits with a 1-minute delay armed). */
function triaged() {
  const h = createHarness({ template: SLA_TEMPLATE });
  const c = h.open({ ownerId: 'ana' });
  const t = h.ok(c, { type: 'task.complete', taskId: openTask(c, 'triage').id, output: { severity: 'low' } }).case;
  return { h, c: t };
}

describe('case.hold and case.resume', () => {
  it('hold is refused when the template is not pausable, and without a reason', () => {
    const plain = createHarness({ template: { ...SLA_TEMPLATE, pausable: false } });
    const error = plain.rejects(plain.open(), { type: 'case.hold', reason: 'waiting for the customer' }, 'HOLD_NOT_ALLOWED');
    expect(error.message).toMatch(/pausable/);
    const unset = createHarness({ template: TEMPLATE });
    unset.rejects(unset.open(), { type: 'case.hold', reason: 'waiting' }, 'HOLD_NOT_ALLOWED');
    const h = createHarness({ template: SLA_TEMPLATE });
    h.rejects(h.open(), { type: 'case.hold', reason: ' ' }, 'REASON_REQUIRED');
  });

  it('hold stops the goal clocks: SLA timers cancelled, fragment delays kept', () => {
    const { h, c } = triaged();
    const delay = Object.values(fragmentByKey(c, 'intake').pendingTimers ?? {})[0]!;
    h.advance(HOUR);
    const d = h.ok(c, { type: 'case.hold', reason: 'waiting for the customer' });
    expect(d.case).toMatchObject({ status: 'on_hold', heldAt: '2026-01-05T10:00:00.000Z', holdReason: 'waiting for the customer' });
    expect(effectsOf(d.effects, 'timer.cancel').map((e) => e.timerId)).toEqual([replied(c).warningTimerId, replied(c).deadlineTimerId]);
    expect(effectsOf(d.effects, 'timer.cancel').map((e) => e.timerId)).not.toContain(delay);
    expect(effectsOf(d.effects, 'timer.schedule')).toEqual([]);
    expect(fragmentByKey(d.case, 'intake').pendingTimers).toEqual(fragmentByKey(c, 'intake').pendingTimers);
    expect(replied(d.case)).toMatchObject({ sla: 'on_track', deadlineAt: replied(c).deadlineAt });
    expect(d.journal).toEqual([
      { type: 'case.held', actor: { id: 'ana', role: 'agent' }, reason: 'waiting for the customer', data: { goalsPaused: ['replied'] }, at: '2026-01-05T10:00:00.000Z' },
    ]);
    expect(outbox(d.effects)).toEqual(['case.held']);
    expect(d.case.version).toBe(c.version + 1);
  });

  it('a held case refuses work with CASE_NOT_OPEN and writes nothing', () => {
    const { h, c } = triaged();
    const held = h.ok(c, { type: 'case.hold', reason: 'waiting' }).case;
    h.rejects(held, { type: 'event.send', event: { type: 'REPLY' } }, 'CASE_NOT_OPEN');
    h.rejects(held, { type: 'goal.update', goalKey: 'replied', deadlineAt: '2026-01-09T09:00:00Z', reason: 'r' }, 'CASE_NOT_OPEN');
    h.rejects(held, { type: 'fragment.add', source: { kind: 'library', ref: 'refund@1' } }, 'CASE_NOT_OPEN');
    const again = h.rejects(held, { type: 'case.hold', reason: 'twice' }, 'CASE_NOT_OPEN');
    expect(again.details).toEqual({ status: 'on_hold' });
  });

  it('a held case still takes content, reassignment, its fragment delays; SLA timers are stale', () => {
    const { h, c } = triaged();
    const held = h.ok(c, { type: 'case.hold', reason: 'waiting' }).case;
    expect(h.ok(held, { type: 'content.add', kind: 'note', data: { text: 'called, no answer' } }).case.status).toBe('on_hold');
    expect(h.ok(held, { type: 'case.reassign', assignment: { queue: 'complaint-leads' } }).case.queue).toBe('complaint-leads');
    const delay = Object.values(fragmentByKey(held, 'intake').pendingTimers ?? {})[0]!;
    h.advance(60_000);
    const fired = h.ok(held, { type: 'timer.fire', timerId: delay }, TIMER);
    expect(fragmentByKey(fired.case, 'intake').activeStates).toEqual(['escalated']);
    expect(fired.case.status).toBe('on_hold');
    const stale = h.ok(held, { type: 'timer.fire', timerId: replied(c).warningTimerId! }, TIMER);
    expect(stale.case).toBe(held);
    expect(stale.result).toEqual({ noop: true, reason: 'timer_not_pending' });
  });

  it('resume moves open goals deadlines by the time held and re-arms both points', () => {
    const { h, c } = triaged();
    h.advance(HOUR); // 10:00Z
    const held = h.ok(c, { type: 'case.hold', reason: 'waiting' }).case;
    h.advance(2 * HOUR); // 12:00Z, past the original warning point
    const d = h.ok(held, { type: 'case.resume', reason: 'customer answered' }, TIMER);
    const goal = replied(d.case);
    expect(d.case.status).toBe('open');
    expect(d.case.heldAt).toBeUndefined();
    expect(d.case.holdReason).toBeUndefined();
    expect(d.case.heldMsTotal).toBe(2 * HOUR);
    expect(goal).toMatchObject({ deadlineAt: '2026-01-05T15:00:00.000Z', sla: 'on_track' });
    expect(effectsOf(d.effects, 'timer.schedule').map((e) => [e.timer.id, e.timer.point, e.timer.dueAt])).toEqual([
      [goal.warningTimerId, 'warning', '2026-01-05T14:00:00.000Z'],
      [goal.deadlineTimerId, 'breach', '2026-01-05T15:00:00.000Z'],
    ]);
    expect(journalTypes(d)).toEqual(['case.resumed']);
    expect(d.journal[0]).toMatchObject({
      reason: 'customer answered',
      data: {
        heldSince: '2026-01-05T10:00:00.000Z',
        heldMs: 2 * HOUR,
        deadlinesMoved: [{ goalKey: 'replied', from: '2026-01-05T13:00:00.000Z', to: '2026-01-05T15:00:00.000Z' }],
      },
    });
    expect(outbox(d.effects)).toEqual(['case.resumed']);
    // Work goes on: the event refused while held is now accepted.
    expect(h.ok(d.case, { type: 'event.send', event: { type: 'REPLY' } }).case.status).toBe('resolved');
  });

  it('an at-risk goal stays at risk across a hold (no second warning); a breached one keeps its deadline', () => {
    const h = createHarness({
      template: {
        ...SLA_TEMPLATE,
        goals: [
          ...SLA_TEMPLATE.goals,
          { key: 'quick', title: 'Quick ack', condition: 'has(milestones.ack)', required: false, deadline: 'PT30M' },
        ],
      },
    });
    const c = h.open();
    h.advance(3 * HOUR); // 12:00Z
    const warned = h.ok(c, { type: 'timer.fire', timerId: replied(c).warningTimerId! }, TIMER).case;
    const quick = warned.goals.find((g) => g.key === 'quick')!;
    const breached = h.ok(warned, { type: 'timer.fire', timerId: quick.deadlineTimerId! }, TIMER).case;
    const held = h.ok(breached, { type: 'case.hold', reason: 'waiting' }).case;
    h.advance(HOUR);
    const d = h.ok(held, { type: 'case.resume' });
    expect(replied(d.case)).toMatchObject({ sla: 'at_risk', deadlineAt: '2026-01-05T14:00:00.000Z' });
    expect(replied(d.case).warningTimerId).toBeUndefined();
    expect(d.case.goals.find((g) => g.key === 'quick')).toMatchObject({ sla: 'breached', deadlineAt: '2026-01-05T09:30:00.000Z' });
    expect(effectsOf(d.effects, 'timer.schedule').map((e) => [e.timer.goalKey, e.timer.point, e.timer.dueAt])).toEqual([
      ['replied', 'breach', '2026-01-05T14:00:00.000Z'],
    ]);
  });

  it('resume needs a held case', () => {
    const { h, c } = triaged();
    const error = h.rejects(c, { type: 'case.resume' }, 'CASE_NOT_ON_HOLD');
    expect(error.details).toEqual({ status: 'open' });
    const closed = h.ok(c, { type: 'case.close', reason: 'duplicate' }).case;
    h.rejects(closed, { type: 'case.resume' }, 'CASE_NOT_OPEN');
  });

  it('closing a held case ends the hold and cancels its remaining work', () => {
    const { h, c } = triaged();
    h.advance(HOUR);
    const held = h.ok(c, { type: 'case.hold', reason: 'waiting' }).case;
    h.advance(HOUR);
    const d = h.ok(held, { type: 'case.close', reason: 'customer withdrew' });
    expect(d.case).toMatchObject({ status: 'closed', heldMsTotal: HOUR });
    expect(d.case.heldAt).toBeUndefined();
    expect(d.journal.at(-1)).toMatchObject({ type: 'case.closed', data: { from: 'on_hold' } });
    expect(d.case.tasks).toEqual([]);
  });
});
