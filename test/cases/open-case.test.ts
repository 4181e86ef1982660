import { describe, expect, it } from 'vitest';
import { AGENT, START, TEMPLATE, createHarness, effectsOf, fragmentByKey, journalTypes, outbox } from './harness.js';

describe('case.open', () => {
  it('creates the case with goals, deadlines and the default fragment in its initial state', () => {
    const h = createHarness();
    const d = h.ok(undefined, { type: 'case.open', input: { title: 'Late delivery', caseFile: { orderId: 'A-1' }, ownerId: 'ana' } });
    const c = d.case;
    expect(c).toMatchObject({
      title: 'Late delivery',
      status: 'open',
      priority: 'normal',
      ownerId: 'ana',
      queue: 'complaints',
      template: { key: 'complaint', version: 1 },
      caseFile: { orderId: 'A-1' },
      version: 1,
      openedAt: START,
      updatedAt: START,
    });
    expect(c.goals.map((g) => [g.key, g.status, g.deadlineAt])).toEqual([
      ['replied', 'open', '2026-01-05T13:00:00.000Z'],
      ['triaged', 'open', undefined],
    ]);
    const intake = fragmentByKey(c, 'intake');
    expect(intake).toMatchObject({ status: 'active', definition: 'intake@1', title: 'Intake', activeStates: ['triage'] });
    expect(d.result).toEqual({ caseId: c.id });
  });

  it('opens a task for the task-tagged initial state, assigned to the template queue', () => {
    const h = createHarness();
    const d = h.ok(undefined, { type: 'case.open', input: { title: 't', caseFile: { orderId: 'A-1' } } });
    expect(d.case.tasks).toHaveLength(1);
    const task = d.case.tasks[0]!;
    expect(task).toMatchObject({
      stateKey: 'triage',
      title: 'Triage the complaint',
      role: 'agent',
      status: 'open',
      event: 'TRIAGED',
      assignment: { queue: 'complaints' },
      openedAt: START,
      dueAt: '2026-01-05T10:00:00.000Z',
    });
    expect(effectsOf(d.effects, 'task.upsert').map((e) => e.task)).toEqual([task]);
    expect(outbox(d.effects)).toEqual(['case.opened', 'task.assigned']);
  });

  it('arms one goal_deadline timer per goal deadline, with an id free of ":"', () => {
    const h = createHarness();
    const d = h.ok(undefined, { type: 'case.open', input: { title: 't', caseFile: { orderId: 'A-1' } } });
    const timers = effectsOf(d.effects, 'timer.schedule').map((e) => e.timer);
    expect(timers).toEqual([
      {
        id: expect.any(String),
        kind: 'goal_deadline',
        goalKey: 'replied',
        dueAt: '2026-01-05T13:00:00.000Z',
        point: 'breach',
        event: { type: 'tessera.goal.breach', goalKey: 'replied' },
      },
    ]);
    expect(timers[0]!.id).not.toContain(':');
    expect(d.case.goals[0]!.deadlineTimerId).toBe(timers[0]!.id);
    // No SLA for this goal in the template: no warning point, but the goal is tracked.
    expect(d.case.goals[0]!.warningTimerId).toBeUndefined();
    expect(d.case.goals[0]!.sla).toBe('on_track');
    expect(d.case.goals[1]!.sla).toBeUndefined();
  });

  it('journals case.opened, then fragment.added, with the actor', () => {
    const h = createHarness();
    const d = h.ok(undefined, { type: 'case.open', input: { title: 't', caseFile: { orderId: 'A-1' } } });
    expect(journalTypes(d).slice(0, 2)).toEqual(['case.opened', 'fragment.added']);
    expect(journalTypes(d)).toContain('task.opened');
    for (const entry of d.journal) {
      expect(entry.actor).toEqual(AGENT);
      expect(entry.at).toBe(START);
    }
  });

  it('uses the queue and priority given at open', () => {
    const h = createHarness();
    const c = h.open({ queue: 'vip', priority: 'urgent' });
    expect(c.queue).toBe('vip');
    expect(c.priority).toBe('urgent');
    expect(c.tasks[0]!.assignment).toEqual({ queue: 'vip' });
  });

  it('is deterministic: same inputs, same decision', () => {
    const a = createHarness().decide(undefined, { type: 'case.open', input: { title: 't', caseFile: { orderId: 'A-1' } } });
    const b = createHarness().decide(undefined, { type: 'case.open', input: { title: 't', caseFile: { orderId: 'A-1' } } });
    expect(a).toEqual(b);
  });

  it('rejects a case file that does not match the template schema, naming the field', () => {
    const h = createHarness();
    const d = h.decide(undefined, { type: 'case.open', input: { title: 't', caseFile: { amount: -1 } } });
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect(d.error.code).toBe('INVALID_CASE_FILE');
    expect(d.error.message).toContain('/orderId');
    expect(d.error.message).toContain('/amount');
    expect(d.error.details).toEqual({
      errors: expect.arrayContaining([
        { pointer: '/orderId', detail: 'is required' },
        { pointer: '/amount', detail: expect.stringContaining('>= 0') },
      ]),
    });
    expect(d).not.toHaveProperty('effects');
  });

  it('rejects a default fragment the library does not have', () => {
    const h = createHarness({ template: { ...TEMPLATE, defaultFragments: ['ghost@1'] } });
    const d = h.decide(undefined, { type: 'case.open', input: { title: 't', caseFile: { orderId: 'A-1' } } });
    expect(d.ok ? undefined : d.error.code).toBe('DEFINITION_NOT_FOUND');
  });
});
