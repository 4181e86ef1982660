/**
 * Two SLA features on the pure engine with an injected clock: a deadline whose clock starts at
 * a milestone (not at case open), and an escalation that opens a fragment.
 */
import { describe, expect, it } from 'vitest';
import type { CaseState, Goal } from '../../src/cases/types.js';
import type { CaseTemplate } from '../../src/templates/types.js';
import { SLA_TEMPLATE, TEMPLATE, TIMER, createHarness, effectsOf, journalTypes } from './harness.js';

const HOUR = 3600_000;
const goal = (c: CaseState, key: string): Goal => c.goals.find((g) => g.key === key)!;

describe('a deadline that starts at a milestone', () => {
  const template: CaseTemplate = {
    ...TEMPLATE,
    goals: [
      ...TEMPLATE.goals,
      // "Decide the refund within 2 hours of replying to the customer." Required, so the case stays open.
      { key: 'refund_decided', title: 'Decide the refund', condition: 'has(milestones.refunded)', required: true, deadline: 'PT2H', deadlineFrom: { milestone: 'replied' } },
    ],
    milestones: [...TEMPLATE.milestones, { key: 'refunded', title: 'Refunded' }],
  };

  it('has no deadline and no SLA timer until the milestone, then is due that long after it', () => {
    const h = createHarness({ template });
    const opened = h.ok(undefined, { type: 'case.open', input: { title: 'refund', ownerId: 'ana', caseFile: { orderId: 'A-1' } } });
    expect(goal(opened.case, 'refund_decided')).toMatchObject({ status: 'open' });
    expect(goal(opened.case, 'refund_decided').deadlineAt).toBeUndefined();
    expect(effectsOf(opened.effects, 'timer.schedule').filter((e) => e.timer.kind === 'goal_deadline').map((e) => e.timer.goalKey)).toEqual(['replied']);

    h.advance(HOUR);
    const triaged = h.ok(opened.case, { type: 'event.send', event: { type: 'TRIAGED', data: { severity: 'low' } } });
    expect(goal(triaged.case, 'refund_decided').deadlineAt).toBeUndefined();

    h.advance(30 * 60_000);
    const repliedAt = h.now().toISOString();
    const replied = h.ok(triaged.case, { type: 'event.send', event: { type: 'REPLY' } });
    const started = goal(replied.case, 'refund_decided');
    expect(started.deadlineAt).toBe(new Date(Date.parse(repliedAt) + 2 * HOUR).toISOString());
    expect(started.sla).toBe('on_track');
    expect(replied.journal.find((j) => j.type === 'goal.deadline_started')?.data).toEqual({ goalKey: 'refund_decided', milestone: 'replied', deadlineAt: started.deadlineAt });
    const armed = effectsOf(replied.effects, 'timer.schedule').filter((e) => e.timer.goalKey === 'refund_decided');
    expect(armed.map((e) => [e.timer.point, e.timer.dueAt])).toEqual([['breach', started.deadlineAt]]);
    expect(started.deadlineTimerId).toBe(armed[0]!.timer.id);

    // The clock does not restart: a later command leaves the deadline where it is.
    h.advance(HOUR);
    const later = h.ok(replied.case, { type: 'goal.add', goal: { key: 'extra', title: 'Extra', condition: 'false', required: false } });
    expect(goal(later.case, 'refund_decided').deadlineAt).toBe(started.deadlineAt);
    expect(journalTypes(later)).not.toContain('goal.deadline_started');
  });
});

describe('an escalation that opens a fragment', () => {
  const template: CaseTemplate = {
    ...SLA_TEMPLATE,
    slas: [
      {
        goal: 'replied',
        warnBefore: 'PT1H',
        onWarning: [{ action: 'startFragment', fragment: 'public-reply@1', queue: 'complaint-leads' }],
        onBreach: [{ action: 'startFragment', fragment: 'public-reply@1' }],
      },
    ],
  };

  it('starts the fragment at the warning, assigned to the queue, and does not start it twice at the breach', () => {
    const h = createHarness({ template });
    const c = h.open({ ownerId: 'ana' });
    const replied = goal(c, 'replied');

    h.advance(3 * HOUR);
    const warned = h.ok(c, { type: 'timer.fire', timerId: replied.warningTimerId! }, TIMER);
    const escalation = warned.case.fragments.find((f) => f.definition === 'public-reply@1');
    expect(escalation).toMatchObject({ status: 'active', assignment: { queue: 'complaint-leads' } });
    expect(journalTypes(warned)).toEqual(expect.arrayContaining(['goal.at_risk', 'fragment.added', 'sla.fragment_started']));
    expect(warned.journal.find((j) => j.type === 'sla.fragment_started')?.data).toEqual({
      goalKey: 'replied',
      point: 'warning',
      fragmentId: escalation!.id,
      definition: 'public-reply@1',
    });
    expect(warned.journal.find((j) => j.type === 'fragment.added')?.data).toMatchObject({ source: 'escalation' });

    h.advance(HOUR);
    const breached = h.ok(warned.case, { type: 'timer.fire', timerId: replied.deadlineTimerId! }, TIMER);
    expect(breached.case.fragments.filter((f) => f.definition === 'public-reply@1')).toHaveLength(1);
    expect(breached.journal.find((j) => j.type === 'sla.escalation_skipped')?.data).toMatchObject({ action: 'startFragment', why: 'public-reply@1 is already active' });
    expect(goal(breached.case, 'replied').sla).toBe('breached');
  });
});
