import { describe, expect, it } from 'vitest';
import type { FragmentDefinition } from '../../src/fragments/types.js';
import { INTAKE_V1, SUPERVISOR, TEMPLATE, createHarness, effectsOf, fragmentByKey, journalTypes, openTask, outbox } from './harness.js';

describe('event.send', () => {
  it('moves the fragments that accept the event and applies their actions to the case', () => {
    const h = createHarness();
    const c = h.open();
    const triaged = h.ok(c, { type: 'task.complete', taskId: openTask(c, 'triage').id, output: { severity: 'high' } }).case;
    const d = h.ok(triaged, { type: 'event.send', event: { type: 'REPLY' } });
    expect(fragmentByKey(d.case, 'intake').status).toBe('done');
    expect(d.case.milestones).toEqual({ replied: expect.any(String) });
    expect(d.result).toEqual({ delivered: [fragmentByKey(c, 'intake').id] });
    expect(outbox(d.effects)).toContain('fragment.completed');
    expect(journalTypes(d)).toEqual(expect.arrayContaining(['event.received', 'milestone.reached', 'fragment.completed']));
    expect(d.case.version).toBe(triaged.version + 1);
  });

  it('refuses an event no fragment accepts now, listing what the case accepts', () => {
    const h = createHarness();
    const c = h.open();
    const error = h.rejects(c, { type: 'event.send', event: { type: 'REPLY' } }, 'EVENT_NOT_ACCEPTED');
    expect(error.details).toEqual({ accepted_events: ['TRIAGED'] });
  });

  it('refuses internal xstate.* events from callers', () => {
    const h = createHarness();
    const c = h.open();
    h.rejects(c, { type: 'event.send', event: { type: 'xstate.after.60000.intake.waiting' } }, 'EVENT_NOT_ACCEPTED');
  });

  it('sends to one fragment by id, and refuses an unknown fragment', () => {
    const h = createHarness();
    const c = h.open();
    const withRefund = h.ok(c, { type: 'fragment.add', source: { kind: 'library', ref: 'refund@1' } }).case;
    const refund = fragmentByKey(withRefund, 'refund');
    const d = h.ok(withRefund, { type: 'event.send', event: { type: 'HOLD' }, fragmentId: refund.id });
    expect(fragmentByKey(d.case, 'refund').activeStates).toEqual(['onHold']);
    h.rejects(withRefund, { type: 'event.send', event: { type: 'HOLD' }, fragmentId: 'nope' }, 'FRAGMENT_NOT_FOUND');
    const intakeId = fragmentByKey(c, 'intake').id;
    const error = h.rejects(withRefund, { type: 'event.send', event: { type: 'HOLD' }, fragmentId: intakeId }, 'EVENT_NOT_ACCEPTED');
    expect(error.details).toEqual({ accepted_events: ['TRIAGED'] });
  });
});

describe('tasks', () => {
  it('task.complete validates the output, sends the task event with data, and closes the task as completed', () => {
    const h = createHarness();
    const c = h.open();
    const task = openTask(c, 'triage');
    const d = h.ok(c, { type: 'task.complete', taskId: task.id, output: { severity: 'high' } });
    expect(d.case.tasks).toEqual([]);
    expect(d.case.caseFile).toEqual({ orderId: 'A-1', triage: { severity: 'high' } });
    expect(fragmentByKey(d.case, 'intake').activeStates).toEqual(['waiting']);
    const upserts = effectsOf(d.effects, 'task.upsert').map((e) => e.task);
    expect(upserts).toEqual([
      expect.objectContaining({ id: task.id, status: 'completed', completedBy: 'ana', output: { severity: 'high' }, closedAt: h.now().toISOString() }),
    ]);
    expect(outbox(d.effects)).toContain('task.completed');
  });

  it('refuses output that does not match the form, naming the field', () => {
    const h = createHarness();
    const c = h.open();
    const error = h.rejects(c, { type: 'task.complete', taskId: openTask(c, 'triage').id, output: { severity: 'meh' } }, 'INVALID_TASK_OUTPUT');
    expect(error.message).toContain('/severity');
    expect(error.details).toEqual({ errors: [{ pointer: '/severity', detail: expect.any(String) }] });
    const missing = h.rejects(c, { type: 'task.complete', taskId: openTask(c, 'triage').id, output: {} }, 'INVALID_TASK_OUTPUT');
    expect(missing.details).toEqual({ errors: [{ pointer: '/severity', detail: 'is required' }] });
  });

  it('answers TASK_NOT_OPEN for a completed task and TASK_NOT_FOUND for an unknown one', () => {
    const h = createHarness();
    const c = h.open();
    const task = openTask(c, 'triage');
    const done = h.ok(c, { type: 'task.complete', taskId: task.id, output: { severity: 'low' } }).case;
    h.rejects(done, { type: 'task.complete', taskId: task.id, output: { severity: 'low' } }, 'TASK_NOT_OPEN');
    h.rejects(done, { type: 'task.claim', taskId: task.id }, 'TASK_NOT_OPEN');
    h.rejects(done, { type: 'task.claim', taskId: 'nope' }, 'TASK_NOT_FOUND');
  });

  it('cancels the task of a state left by another event', () => {
    const h = createHarness();
    const c = h.open();
    const withRefund = h.ok(c, { type: 'fragment.add', source: { kind: 'library', ref: 'refund@1' } }).case;
    const review = openTask(withRefund, 'review');
    expect(review.assignment).toEqual({ queue: 'approvals' });
    const d = h.ok(withRefund, { type: 'event.send', event: { type: 'HOLD' } });
    expect(d.case.tasks.map((t) => t.id)).not.toContain(review.id);
    expect(effectsOf(d.effects, 'task.upsert').map((e) => [e.task.id, e.task.status])).toEqual([[review.id, 'cancelled']]);
    // Coming back opens a new task for the same state.
    const back = h.ok(d.case, { type: 'event.send', event: { type: 'RESUME' } });
    const reopened = openTask(back.case, 'review');
    expect(reopened.id).not.toBe(review.id);
  });

  it('task.claim assigns the task to the actor; task.reassign releases the claim', () => {
    const h = createHarness();
    const c = h.open();
    const task = openTask(c, 'triage');
    const claimed = h.ok(c, { type: 'task.claim', taskId: task.id }, SUPERVISOR);
    expect(openTask(claimed.case, 'triage')).toMatchObject({ claimedBy: 'sam', assignment: { userId: 'sam' } });
    expect(outbox(claimed.effects)).toEqual(['task.assigned']);
    expect(journalTypes(claimed)).toEqual(['task.claimed']);
    const moved = h.ok(claimed.case, { type: 'task.reassign', taskId: task.id, assignment: { queue: 'tier2' }, reason: 'needs expertise' });
    const t = openTask(moved.case, 'triage');
    expect(t.assignment).toEqual({ queue: 'tier2' });
    expect(t.claimedBy).toBeUndefined();
    expect(moved.journal[0]).toMatchObject({ type: 'task.reassigned', reason: 'needs expertise' });
    h.rejects(c, { type: 'task.reassign', taskId: task.id, assignment: {} }, 'VALIDATION_FAILED');
  });

  it('refuses a completion whose event the fragment does not accept (guard says no), leaving the task open', () => {
    const h = createHarness({
      definitions: [
        {
          key: 'intake',
          version: 1,
          title: 'Guarded',
          machine: {
            id: 'guarded',
            initial: 'ask',
            states: {
              ask: {
                tags: ['task'],
                meta: { task: { title: 'Approve', event: 'DECIDE' } },
                on: { DECIDE: { target: 'ok', guard: { type: 'expr', params: { expr: 'event.data.approved == true' } } } },
              },
              ok: { type: 'final' },
            },
          },
        },
      ],
    });
    const c = h.open();
    const task = openTask(c, 'ask');
    h.rejects(c, { type: 'task.complete', taskId: task.id, output: { approved: false } }, 'EVENT_NOT_ACCEPTED');
    const d = h.ok(c, { type: 'task.complete', taskId: task.id, output: { approved: true } });
    expect(fragmentByKey(d.case, 'intake').status).toBe('done');
  });
});

// The harness actor (ana, an agent) owns these cases: an agent may send a task's event only on
// a task they hold or a case they own (test/api/approvals.test.ts covers the refusals).
const OWNED_BY_ANA = { ownerId: 'ana' };

describe('event.send of an open task\'s event', () => {
  it('completes the task as task.complete would: completed by the actor, with the data as output', () => {
    const viaEvent = createHarness();
    const c = viaEvent.open(OWNED_BY_ANA);
    const task = openTask(c, 'triage');
    const d = viaEvent.ok(c, { type: 'event.send', event: { type: 'TRIAGED', data: { severity: 'high' } } });
    expect(d.result).toEqual({ delivered: [task.fragmentId] });
    expect(d.case.tasks).toEqual([]);
    expect(d.case.caseFile).toEqual({ orderId: 'A-1', triage: { severity: 'high' } });
    expect(effectsOf(d.effects, 'task.upsert').map((e) => e.task)).toEqual([
      expect.objectContaining({ id: task.id, status: 'completed', completedBy: 'ana', output: { severity: 'high' } }),
    ]);
    expect(journalTypes(d)).not.toContain('task.cancelled');
    expect(outbox(d.effects)).toContain('task.completed');

    // Same effects and journal (after event.received) as task.complete on an identical case.
    const viaTask = createHarness();
    const same = viaTask.open(OWNED_BY_ANA);
    const completed = viaTask.ok(same, { type: 'task.complete', taskId: openTask(same, 'triage').id, output: { severity: 'high' } });
    expect(d.effects).toEqual(completed.effects);
    expect(d.journal[0]).toMatchObject({ type: 'event.received', data: { event: 'TRIAGED', fragmentIds: [task.fragmentId] } });
    expect(d.journal.slice(1)).toEqual(completed.journal);
  });

  it('refuses data that does not match the form with INVALID_TASK_OUTPUT, naming the field, and changes nothing', () => {
    const h = createHarness();
    const c = h.open(OWNED_BY_ANA);
    // h.rejects asserts no case, effects or journal come back, and that the frozen input is unchanged.
    const error = h.rejects(c, { type: 'event.send', event: { type: 'TRIAGED', data: { severity: 'meh' } } }, 'INVALID_TASK_OUTPUT');
    expect(error.message).toContain('/severity');
    expect(error.details).toEqual({ errors: [{ pointer: '/severity', detail: expect.any(String) }] });
    // No data is checked as `{}`.
    const missing = h.rejects(c, { type: 'event.send', event: { type: 'TRIAGED' } }, 'INVALID_TASK_OUTPUT');
    expect(missing.details).toEqual({ errors: [{ pointer: '/severity', detail: 'is required' }] });
    expect(openTask(c, 'triage').status).toBe('open');
  });

  it('refuses the whole command when one of several receiving fragments has the task and the data fails its form', () => {
    const listener: FragmentDefinition = {
      key: 'listener',
      version: 1,
      title: 'Listener',
      machine: { id: 'listener', initial: 'idle', states: { idle: { on: { TRIAGED: 'heard' } }, heard: { type: 'final' } } },
    };
    const h = createHarness({
      template: { ...TEMPLATE, defaultFragments: ['listener@1', 'intake@1'] },
      definitions: [INTAKE_V1, listener],
    });
    const c = h.open(OWNED_BY_ANA);
    h.rejects(c, { type: 'event.send', event: { type: 'TRIAGED', data: { severity: 'meh' } } }, 'INVALID_TASK_OUTPUT');
    const d = h.ok(c, { type: 'event.send', event: { type: 'TRIAGED', data: { severity: 'low' } } });
    expect(d.result).toEqual({ delivered: [fragmentByKey(c, 'listener').id, fragmentByKey(c, 'intake').id] });
    expect(fragmentByKey(d.case, 'listener').status).toBe('done');
    expect(effectsOf(d.effects, 'task.upsert').map((e) => [e.task.id, e.task.status, e.task.completedBy])).toEqual([
      [openTask(c, 'triage').id, 'completed', 'ana'],
    ]);
  });

  it('leaves events that are no open task\'s event as before: no form check, a left task is cancelled', () => {
    const h = createHarness();
    const c = h.ok(h.open(), { type: 'fragment.add', source: { kind: 'library', ref: 'refund@1' } }).case;
    const review = openTask(c, 'review');
    const d = h.ok(c, { type: 'event.send', event: { type: 'HOLD', data: { severity: 'meh' } } });
    expect(effectsOf(d.effects, 'task.upsert').map((e) => [e.task.id, e.task.status])).toEqual([[review.id, 'cancelled']]);
    expect(effectsOf(d.effects, 'task.upsert')[0]!.task).not.toHaveProperty('completedBy');
    expect(outbox(d.effects)).not.toContain('task.completed');
    expect(openTask(d.case, 'triage').id).toBe(openTask(c, 'triage').id);
  });
});

describe('acceptedEvents (read model)', () => {
  it('lists what each active fragment accepts now', async () => {
    const { createEngine } = await import('../../src/cases/engine.js');
    const { INTAKE_V1, REFUND_V1 } = await import('./harness.js');
    const h = createHarness();
    const c = h.ok(h.open(), { type: 'fragment.add', source: { kind: 'library', ref: 'refund@1' } }).case;
    const defs = new Map([['intake@1', INTAKE_V1], ['refund@1', REFUND_V1]]);
    const accepted = createEngine().acceptedEvents(c, { definitions: (ref) => defs.get(ref) });
    expect(accepted.all).toEqual(['APPROVE', 'HOLD', 'TRIAGED']);
    expect(accepted.byFragment[fragmentByKey(c, 'intake').id]).toEqual(['TRIAGED']);
    expect([...accepted.byFragment[fragmentByKey(c, 'refund').id]!].sort()).toEqual(['APPROVE', 'HOLD']);
  });
});

describe('guards', () => {
  it('fragment guards see the case file and the other fragments', () => {
    const h = createHarness({
      definitions: [
        {
          key: 'intake',
          version: 1,
          title: 'Gate',
          machine: {
            id: 'gate',
            initial: 'waiting',
            states: {
              waiting: {
                on: {
                  GO: [
                    { target: 'big', guard: { type: 'expr', params: { expr: "caseFile.amount > 100 && fragments.intake.states == ['waiting']" } } },
                    { target: 'small' },
                  ],
                },
              },
              big: { type: 'final' },
              small: { type: 'final' },
            },
          },
        },
      ],
    });
    const big = h.ok(h.open({ caseFile: { orderId: 'A-1', amount: 150 } }), { type: 'event.send', event: { type: 'GO' } });
    expect(fragmentByKey(big.case, 'intake').activeStates).toEqual(['big']);
    const small = h.ok(h.open({ caseFile: { orderId: 'A-1', amount: 50 } }), { type: 'event.send', event: { type: 'GO' } });
    expect(fragmentByKey(small.case, 'intake').activeStates).toEqual(['small']);
  });
});
