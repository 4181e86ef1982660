import { describe, expect, it } from 'vitest';
import { createHarness, effectsOf, journalTypes, openTask, outbox } from './harness.js';

describe('case.reassign', () => {
  it('changes owner and/or queue, journaled with the reason', () => {
    const h = createHarness();
    const c = h.open({ ownerId: 'ana' });
    const d = h.ok(c, { type: 'case.reassign', assignment: { userId: 'sam' }, reason: 'holiday' });
    expect(d.case.ownerId).toBe('sam');
    expect(d.case.queue).toBe('complaints');
    expect(d.journal).toEqual([
      expect.objectContaining({ type: 'case.reassigned', reason: 'holiday', data: { from: { ownerId: 'ana', queue: 'complaints' }, to: { ownerId: 'sam', queue: 'complaints' } } }),
    ]);
    expect(outbox(d.effects)).toEqual(['case.reassigned']);
    expect(h.ok(c, { type: 'case.reassign', assignment: { queue: 'vip' } }).case.queue).toBe('vip');
    h.rejects(c, { type: 'case.reassign', assignment: {} }, 'VALIDATION_FAILED');
  });
});

describe('content.add', () => {
  it('adds a content item as an effect and journals it', () => {
    const h = createHarness();
    const c = h.open();
    const d = h.ok(c, {
      type: 'content.add',
      kind: 'note',
      data: { text: 'Customer called about the parcel', visibility: 'internal' },
    });
    const [added] = effectsOf(d.effects, 'content.add');
    expect(added!.item).toEqual({
      id: expect.any(String),
      kind: 'note',
      data: { text: 'Customer called about the parcel', visibility: 'internal' },
      addedBy: 'ana',
      addedAt: h.now().toISOString(),
    });
    expect(journalTypes(d)).toEqual(['content.added']);
    expect(d.case.version).toBe(c.version + 1);
    h.rejects(c, { type: 'content.add', kind: 'video' as 'note', data: {} }, 'CONTENT_INVALID');
  });
});

describe('case.close', () => {
  it('with unmet required goals and no reason: UNMET_REQUIRED_GOALS', () => {
    const h = createHarness();
    const c = h.open();
    const error = h.rejects(c, { type: 'case.close' }, 'UNMET_REQUIRED_GOALS');
    expect(error.details).toEqual({ unmet_goals: ['replied'] });
  });

  it('with a reason: closes, cancels open tasks, fragments and timers, announces case.closed', () => {
    const h = createHarness();
    const c = h.open();
    const task = openTask(c, 'triage');
    const deadlineTimer = c.goals[0]!.deadlineTimerId!;
    const d = h.ok(c, { type: 'case.close', reason: 'duplicate of another case' });
    expect(d.case).toMatchObject({ status: 'closed', closedAt: h.now().toISOString(), closeReason: 'duplicate of another case', tasks: [] });
    expect(d.case.fragments.every((f) => f.status === 'cancelled')).toBe(true);
    expect(effectsOf(d.effects, 'task.upsert').map((e) => [e.task.id, e.task.status])).toEqual([[task.id, 'cancelled']]);
    expect(effectsOf(d.effects, 'timer.cancel').map((e) => e.timerId)).toEqual([deadlineTimer]);
    expect(outbox(d.effects)).toEqual(['case.closed']);
    expect(d.journal.at(-1)).toMatchObject({ type: 'case.closed', reason: 'duplicate of another case' });
  });

  it('status cancelled is recorded as such', () => {
    const h = createHarness();
    const c = h.open();
    expect(h.ok(c, { type: 'case.close', status: 'cancelled', reason: 'opened by mistake' }).case.status).toBe('cancelled');
  });

  it('a closed case refuses every command with CASE_NOT_OPEN', () => {
    const h = createHarness();
    const c = h.open();
    const closed = h.ok(c, { type: 'case.close', reason: 'r' }).case;
    const commands = [
      { type: 'event.send', event: { type: 'TRIAGED' } },
      { type: 'fragment.add', source: { kind: 'library', ref: 'refund@1' } },
      { type: 'goal.add', goal: { key: 'g', title: 'g', condition: 'true', required: false } },
      { type: 'case.reassign', assignment: { userId: 'sam' } },
      { type: 'content.add', kind: 'note', data: { text: 'x' } },
      { type: 'case.close', reason: 'again' },
      { type: 'task.claim', taskId: 'x' },
    ] as const;
    for (const command of commands) h.rejects(closed, command, 'CASE_NOT_OPEN');
  });
});
