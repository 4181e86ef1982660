import { describe, expect, it } from 'vitest';
import { TEMPLATE, createHarness, effectsOf, journalTypes, openTask, outbox } from './harness.js';

describe('goals', () => {
  it('a goal whose condition becomes true is achieved, journaled and announced; its deadline timer is cancelled', () => {
    const h = createHarness();
    const c = h.open();
    const d = h.ok(c, { type: 'task.complete', taskId: openTask(c, 'triage').id, output: { severity: 'low' } });
    const triaged = d.case.goals.find((g) => g.key === 'triaged')!;
    expect(triaged).toMatchObject({ status: 'achieved', achievedAt: h.now().toISOString() });
    expect(journalTypes(d)).toContain('goal.achieved');
    expect(outbox(d.effects)).toContain('goal.achieved');
    expect(d.case.status).toBe('open');
  });

  it('auto resolution: all required goals achieved -> resolved, case.resolved, open work cancelled', () => {
    const h = createHarness();
    const c = h.open();
    const withRefund = h.ok(c, { type: 'fragment.add', source: { kind: 'library', ref: 'refund@1' } }).case;
    const t = h.ok(withRefund, { type: 'task.complete', taskId: openTask(withRefund, 'triage').id, output: { severity: 'low' } }).case;
    const deadlineTimer = t.goals.find((g) => g.key === 'replied')!.deadlineTimerId!;
    const d = h.ok(t, { type: 'event.send', event: { type: 'REPLY' } });
    expect(d.case.status).toBe('resolved');
    expect(d.case.resolvedAt).toBe(h.now().toISOString());
    expect(outbox(d.effects)).toEqual(expect.arrayContaining(['goal.achieved', 'case.resolved']));
    expect(journalTypes(d).at(-1)).toBe('case.resolved');
    // The refund fragment still running is stopped with its task; the deadline timer goes.
    expect(d.case.tasks).toEqual([]);
    expect(d.case.fragments.find((f) => f.definition === 'refund@1')!.status).toBe('cancelled');
    expect(effectsOf(d.effects, 'timer.cancel').map((e) => e.timerId)).toContain(deadlineTimer);
    // A resolved case takes no more work, but can be closed.
    h.rejects(d.case, { type: 'content.add', kind: 'note', data: { text: 'late' } }, 'CASE_NOT_OPEN');
    expect(h.ok(d.case, { type: 'case.close' }).case.status).toBe('closed');
  });

  it('owner resolution: goals achieved but the case stays open', () => {
    const h = createHarness({ template: { ...TEMPLATE, resolution: 'owner' } });
    const c = h.open();
    const t = h.ok(c, { type: 'task.complete', taskId: openTask(c, 'triage').id, output: { severity: 'low' } }).case;
    const d = h.ok(t, { type: 'event.send', event: { type: 'REPLY' } });
    expect(d.case.goals.every((g) => g.status === 'achieved')).toBe(true);
    expect(d.case.status).toBe('open');
  });

  it('goal.add adds an ad-hoc goal with a deadline timer; it may be achieved at once', () => {
    const h = createHarness();
    const c = h.open();
    const d = h.ok(c, {
      type: 'goal.add',
      goal: { key: 'refund', title: 'Refund paid', condition: 'has(milestones.refunded)', required: true, deadlineAt: '2026-01-06T09:00:00Z' },
      reason: 'customer asked',
    });
    const goal = d.case.goals.find((g) => g.key === 'refund')!;
    expect(goal).toMatchObject({ adHoc: true, status: 'open', deadlineAt: '2026-01-06T09:00:00.000Z' });
    expect(effectsOf(d.effects, 'timer.schedule').map((e) => e.timer)).toEqual([
      {
        id: goal.deadlineTimerId,
        kind: 'goal_deadline',
        goalKey: 'refund',
        dueAt: '2026-01-06T09:00:00.000Z',
        point: 'breach',
        event: { type: 'tessera.goal.breach', goalKey: 'refund' },
      },
    ]);
    expect(d.journal[0]).toMatchObject({ type: 'goal.added', reason: 'customer asked' });
    const instant = h.ok(c, { type: 'goal.add', goal: { key: 'has-order', title: 'Order known', condition: "caseFile.orderId != ''", required: false } });
    expect(instant.case.goals.find((g) => g.key === 'has-order')!.status).toBe('achieved');
  });

  it('goal.add refuses a duplicate key and an invalid condition', () => {
    const h = createHarness();
    const c = h.open();
    h.rejects(c, { type: 'goal.add', goal: { key: 'replied', title: 'x', condition: 'true', required: false } }, 'GOAL_EXISTS');
    const error = h.rejects(c, { type: 'goal.add', goal: { key: 'x', title: 'x', condition: 'caseFile.(', required: false } }, 'INVALID_EXPRESSION');
    expect(error.details).toMatchObject({ expression: 'caseFile.(' });
  });

  it('goal.update moves a deadline: the old timer is cancelled, a new one scheduled', () => {
    const h = createHarness();
    const c = h.open();
    const old = c.goals.find((g) => g.key === 'replied')!;
    const d = h.ok(c, { type: 'goal.update', goalKey: 'replied', deadlineAt: '2026-01-05T17:00:00Z', reason: 'customer away' }, );
    const goal = d.case.goals.find((g) => g.key === 'replied')!;
    expect(goal.deadlineAt).toBe('2026-01-05T17:00:00.000Z');
    expect(effectsOf(d.effects, 'timer.cancel').map((e) => e.timerId)).toEqual([old.deadlineTimerId]);
    expect(effectsOf(d.effects, 'timer.schedule').map((e) => e.timer)).toEqual([
      {
        id: goal.deadlineTimerId,
        kind: 'goal_deadline',
        goalKey: 'replied',
        dueAt: '2026-01-05T17:00:00.000Z',
        point: 'breach',
        event: { type: 'tessera.goal.breach', goalKey: 'replied' },
      },
    ]);
    expect(goal.deadlineTimerId).not.toBe(old.deadlineTimerId);
    expect(d.journal[0]).toMatchObject({
      type: 'goal.updated',
      reason: 'customer away',
      data: { goalKey: 'replied', changes: { deadlineAt: { from: old.deadlineAt, to: '2026-01-05T17:00:00.000Z' } } },
    });
  });

  it('goal.update with deadlineAt null removes the deadline and its timer', () => {
    const h = createHarness();
    const c = h.open();
    const d = h.ok(c, { type: 'goal.update', goalKey: 'replied', deadlineAt: null, reason: 'no SLA for this customer' });
    const goal = d.case.goals.find((g) => g.key === 'replied')!;
    expect(goal.deadlineAt).toBeUndefined();
    expect(goal.deadlineTimerId).toBeUndefined();
    expect(goal.sla).toBeUndefined();
    expect(effectsOf(d.effects, 'timer.schedule')).toEqual([]);
    expect(effectsOf(d.effects, 'timer.cancel')).toHaveLength(1);
  });

  it('goal.update needs a reason and an existing goal', () => {
    const h = createHarness();
    const c = h.open();
    h.rejects(c, { type: 'goal.update', goalKey: 'replied', deadlineAt: '2026-01-05T17:00:00Z', reason: '' }, 'REASON_REQUIRED');
    h.rejects(c, { type: 'goal.update', goalKey: 'nope', title: 'x', reason: 'r' }, 'GOAL_NOT_FOUND');
    h.rejects(c, { type: 'goal.update', goalKey: 'replied', deadlineAt: 'tomorrow', reason: 'r' }, 'VALIDATION_FAILED');
  });
});
