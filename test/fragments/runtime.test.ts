import { describe, expect, test } from 'vitest';
import { createMachine, transition } from 'xstate';
import { DefinitionError } from '../../src/fragments/definition-error.js';
import { compileFragment, type Scope } from '../../src/fragments/runtime.js';
import type { FragmentDefinition } from '../../src/fragments/types.js';

const scope = (caseFile: Record<string, unknown> = {}, milestones: Record<string, string> = {}): Scope => ({
  caseFile,
  milestones,
  case: { id: 'case-1', status: 'open', priority: 'normal' },
});

/** JSON round trip, as the snapshot goes through Postgres. */
const stored = (snapshot: unknown): unknown => JSON.parse(JSON.stringify(snapshot));

function refund(): FragmentDefinition {
  return {
    key: 'refund',
    version: 1,
    title: 'Refund',
    machine: {
      id: 'refund',
      initial: 'review',
      states: {
        review: {
          tags: ['task'],
          meta: { task: { title: 'Review the refund', role: 'agent' } },
          entry: { type: 'setMilestone', params: { key: 'inReview' } },
          after: { PT1H: 'escalated' },
          on: {
            COMPLETE: [
              {
                target: 'approved',
                guard: { type: 'expr', params: { expr: 'caseFile.amount <= 100 || event.data.managerOk == true' } },
                actions: [
                  { type: 'assignCaseFile', params: { path: 'refund.approvedBy', fromEvent: 'data.by' } },
                  { type: 'emit', params: { eventType: 'refund.approved', data: { channel: 'email' } } },
                ],
              },
              { target: 'rejected', guard: { type: 'expr', params: { expr: 'event.data.managerOk == false' } } },
            ],
            NOTE: { actions: { type: 'assignCaseFile', params: { path: 'lastNote', value: 'noted' } } },
          },
        },
        escalated: {
          entry: { type: 'setPriority', params: { priority: 'high' } },
          on: { COMPLETE: 'approved' },
        },
        approved: {
          entry: { type: 'assignCaseFile', params: { path: 'refund.total', expr: 'caseFile.amount * 2.0' } },
          always: { target: 'paid', guard: { type: 'milestoneReached', params: { key: 'payoutReady' } } },
          on: { PAY: 'paid' },
        },
        paid: { type: 'final' },
        rejected: { type: 'final' },
      },
    },
  };
}

describe('start', () => {
  test('enters the initial state and returns entry actions and timers as data', () => {
    const fragment = compileFragment(refund());
    const result = fragment.start(scope({ amount: 50 }));
    expect(result.status).toBe('active');
    expect(result.activeStates).toEqual(['review']);
    expect(result.actions).toEqual([{ type: 'setMilestone', key: 'inReview' }]);
    expect(result.delays).toEqual({
      schedule: [{ sendId: 'xstate.after.PT1H.refund.review', delayMs: 3_600_000, event: { type: 'xstate.after.PT1H.refund.review' } }],
      cancel: [],
    });
  });

  test('the snapshot is plain JSON', () => {
    const { snapshot } = compileFragment(refund()).start(scope());
    expect(stored(snapshot)).toEqual(snapshot);
  });
});

describe('send', () => {
  test('a guard reads the case file: a small refund is approved', () => {
    const fragment = compileFragment(refund());
    const { snapshot } = fragment.start(scope({ amount: 50 }));
    const result = fragment.send(stored(snapshot), { type: 'COMPLETE', data: { by: 'ann' } }, scope({ amount: 50 }));
    expect(result?.activeStates).toEqual(['approved']);
  });

  test('a guard reads the event: a large refund needs the manager in the event data', () => {
    const fragment = compileFragment(refund());
    const { snapshot } = fragment.start(scope({ amount: 500 }));
    expect(fragment.send(snapshot, { type: 'COMPLETE', data: {} }, scope({ amount: 500 }))).toBeUndefined();
    expect(fragment.send(snapshot, { type: 'COMPLETE', data: { managerOk: false } }, scope({ amount: 500 }))?.activeStates).toEqual(['rejected']);
    expect(fragment.send(snapshot, { type: 'COMPLETE', data: { managerOk: true } }, scope({ amount: 500 }))?.activeStates).toEqual(['approved']);
  });

  test('actions come back as data and are not executed', () => {
    const fragment = compileFragment(refund());
    const caseFile = { amount: 40 };
    const { snapshot } = fragment.start(scope(caseFile));
    const result = fragment.send(snapshot, { type: 'COMPLETE', data: { by: 'ann' } }, scope(caseFile));
    expect(result?.actions).toEqual([
      { type: 'assignCaseFile', path: 'refund.approvedBy', value: 'ann' },
      { type: 'emit', eventType: 'refund.approved', data: { channel: 'email' } },
      { type: 'assignCaseFile', path: 'refund.total', value: 80 },
    ]);
    expect(caseFile).toEqual({ amount: 40 });
  });

  test('an expr action sees the event that triggered it', () => {
    const def = refund();
    def.machine.states.review!.on!.NOTE = { actions: { type: 'assignCaseFile', params: { path: 'lastNote', expr: "event.data.text + ' (' + case.id + ')'" } } };
    const fragment = compileFragment(def);
    const { snapshot } = fragment.start(scope());
    const result = fragment.send(snapshot, { type: 'NOTE', data: { text: 'called back' } }, scope());
    expect(result?.actions).toEqual([{ type: 'assignCaseFile', path: 'lastNote', value: 'called back (case-1)' }]);
  });

  test('a fromEvent field the event lacks produces no assignment', () => {
    const fragment = compileFragment(refund());
    const { snapshot } = fragment.start(scope({ amount: 40 }));
    const result = fragment.send(snapshot, { type: 'COMPLETE' }, scope({ amount: 40 }));
    expect(result?.actions.filter((a) => a.type === 'assignCaseFile' && a.path === 'refund.approvedBy')).toEqual([]);
  });

  test('leaving a state with `after` cancels its timer', () => {
    const fragment = compileFragment(refund());
    const { snapshot } = fragment.start(scope({ amount: 40 }));
    const result = fragment.send(snapshot, { type: 'COMPLETE' }, scope({ amount: 40 }));
    expect(result?.delays).toEqual({ schedule: [], cancel: ['xstate.after.PT1H.refund.review'] });
  });

  test('the delayed event fires the `after` transition when the timer comes back', () => {
    const fragment = compileFragment(refund());
    const start = fragment.start(scope());
    const timer = start.delays.schedule[0]!;
    const result = fragment.send(stored(start.snapshot), timer.event, scope());
    expect(result?.activeStates).toEqual(['escalated']);
    expect(result?.actions).toEqual([{ type: 'setPriority', priority: 'high' }]);
    expect(result?.delays.cancel).toEqual([]);
  });

  test('a stale timer (its state already left) is not accepted', () => {
    const fragment = compileFragment(refund());
    const start = fragment.start(scope({ amount: 1 }));
    const approved = fragment.send(start.snapshot, { type: 'COMPLETE' }, scope({ amount: 1 }))!;
    expect(fragment.send(approved.snapshot, start.delays.schedule[0]!.event, scope())).toBeUndefined();
  });

  test('a targetless transition is accepted and keeps the state', () => {
    const fragment = compileFragment(refund());
    const { snapshot } = fragment.start(scope());
    const result = fragment.send(snapshot, { type: 'NOTE' }, scope());
    expect(result?.activeStates).toEqual(['review']);
    expect(result?.actions).toEqual([{ type: 'assignCaseFile', path: 'lastNote', value: 'noted' }]);
    expect(result?.delays).toEqual({ schedule: [], cancel: [] });
  });

  test.each([
    [{ type: 'UNKNOWN' }],
    [{ type: 'tessera.jump.paid' }],
    [{ type: 'xstate.init' }],
    [{ type: '' }],
  ])('event %j is rejected: undefined, and the snapshot is untouched', (event) => {
    const fragment = compileFragment(refund());
    const { snapshot } = fragment.start(scope());
    const before = JSON.stringify(snapshot);
    expect(fragment.send(snapshot, event, scope())).toBeUndefined();
    expect(JSON.stringify(snapshot)).toBe(before);
  });

  test('an eventless transition with a guard follows in the same step', () => {
    const fragment = compileFragment(refund());
    const { snapshot } = fragment.start(scope({ amount: 1 }));
    const result = fragment.send(snapshot, { type: 'COMPLETE' }, scope({ amount: 1 }, { payoutReady: '2024-01-01' }));
    expect(result?.activeStates).toEqual(['paid']);
    expect(result?.status).toBe('done');
  });

  test('a done fragment accepts nothing', () => {
    const fragment = compileFragment(refund());
    const { snapshot } = fragment.start(scope({ amount: 1 }));
    const done = fragment.send(snapshot, { type: 'COMPLETE' }, scope({ amount: 1 }, { payoutReady: 'x' }))!;
    expect(fragment.send(done.snapshot, { type: 'PAY' }, scope())).toBeUndefined();
    expect(fragment.acceptedEvents(done.snapshot, scope())).toEqual([]);
  });

  test('a snapshot of a state the definition does not have is refused with STATE_NOT_FOUND', () => {
    const fragment = compileFragment(refund());
    const restore = () => fragment.send({ status: 'active', value: 'constructor', context: {} }, { type: 'PAY' }, scope());
    expect(restore).toThrow(DefinitionError);
    expect(restore).toThrow(expect.objectContaining({ code: 'STATE_NOT_FOUND' }));
  });
});

describe('acceptedEvents', () => {
  test('lists events with an enabled transition; guards on the event itself count as passing', () => {
    const fragment = compileFragment(refund());
    const { snapshot } = fragment.start(scope());
    expect(fragment.acceptedEvents(snapshot, scope()).sort()).toEqual(['COMPLETE', 'NOTE']);
  });

  test('a guard on the case that fails hides the event', () => {
    const def = refund();
    def.machine.states.escalated!.on = { COMPLETE: { target: 'approved', guard: { type: 'expr', params: { expr: 'caseFile.amount < 10' } } } };
    const fragment = compileFragment(def);
    const escalated = fragment.jumpTo(undefined, 'escalated', scope()).snapshot;
    expect(fragment.acceptedEvents(escalated, scope({ amount: 50 }))).toEqual([]);
    expect(fragment.acceptedEvents(escalated, scope({ amount: 5 }))).toEqual(['COMPLETE']);
  });
});

describe('tasks', () => {
  test('taskStates lists active states tagged task with their meta.task', () => {
    const fragment = compileFragment(refund());
    const { snapshot } = fragment.start(scope());
    expect(fragment.taskStates(stored(snapshot))).toEqual([{ stateKey: 'review', spec: { title: 'Review the refund', role: 'agent' } }]);
  });

  test('a state without the task tag has no task', () => {
    const fragment = compileFragment(refund());
    expect(fragment.taskStates(fragment.jumpTo(undefined, 'escalated', scope()).snapshot)).toEqual([]);
  });
});

describe('jumpTo', () => {
  test('moves to the state, cancels the old timers and runs the entry of the new state', () => {
    const fragment = compileFragment(refund());
    const { snapshot } = fragment.start(scope());
    const result = fragment.jumpTo(stored(snapshot), 'escalated', scope());
    expect(result.activeStates).toEqual(['escalated']);
    expect(result.actions).toEqual([{ type: 'setPriority', priority: 'high' }]);
    expect(result.delays).toEqual({ schedule: [], cancel: ['xstate.after.PT1H.refund.review'] });
  });

  test('without a snapshot it enters the state from nothing (timers and task, nothing cancelled)', () => {
    const fragment = compileFragment(refund());
    const result = fragment.jumpTo(undefined, 'review', scope());
    expect(result.activeStates).toEqual(['review']);
    expect(result.actions).toEqual([{ type: 'setMilestone', key: 'inReview' }]);
    expect(result.delays.schedule.map((d) => d.sendId)).toEqual(['xstate.after.PT1H.refund.review']);
    expect(result.delays.cancel).toEqual([]);
    expect(fragment.taskStates(result.snapshot)).toHaveLength(1);
  });

  test('jumping to the current state re-enters it: cancel, then schedule again', () => {
    const fragment = compileFragment(refund());
    const { snapshot } = fragment.start(scope());
    const result = fragment.jumpTo(snapshot, 'review', scope());
    expect(result.delays.cancel).toEqual(['xstate.after.PT1H.refund.review']);
    expect(result.delays.schedule.map((d) => d.sendId)).toEqual(['xstate.after.PT1H.refund.review']);
  });

  test('a done fragment can be jumped back into', () => {
    const fragment = compileFragment(refund());
    const done = fragment.jumpTo(undefined, 'rejected', scope());
    expect(done.status).toBe('done');
    expect(fragment.jumpTo(done.snapshot, 'escalated', scope()).status).toBe('active');
  });

  test('an unknown state throws STATE_NOT_FOUND naming the valid states', () => {
    const fragment = compileFragment(refund());
    const { snapshot } = fragment.start(scope());
    for (const bad of ['nope', 'constructor', '__proto__', 'review.child', '']) {
      let error: unknown;
      try {
        fragment.jumpTo(snapshot, bad, scope());
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DefinitionError);
      expect((error as DefinitionError).code).toBe('STATE_NOT_FOUND');
      expect((error as DefinitionError).message).toContain('review, escalated, approved, paid, rejected');
    }
  });
});

describe('nested, parallel and raised events', () => {
  const def: FragmentDefinition = {
    key: 'supplier',
    version: 2,
    title: 'Supplier repair',
    machine: {
      id: 'supplier',
      initial: 'work',
      states: {
        work: {
          type: 'parallel',
          states: {
            repair: {
              initial: 'waiting',
              states: {
                waiting: { after: { '5000': 'late' }, on: { REPAIRED: { target: 'fixed', actions: { type: 'raiseEvent', params: { event: { type: 'CHECK' } } } } } },
                late: { entry: { type: 'emit', params: { eventType: 'supplier.late' } }, on: { REPAIRED: 'fixed' } },
                fixed: { type: 'final' },
              },
            },
            billing: { initial: 'open', states: { open: { on: { CHECK: 'checked' } }, checked: {} } },
          },
        },
        closed: { type: 'final' },
      },
    },
  };

  test('statePaths lists every nested state', () => {
    expect(compileFragment(def).statePaths).toEqual([
      'work', 'work.repair', 'work.repair.waiting', 'work.repair.late', 'work.repair.fixed',
      'work.billing', 'work.billing.open', 'work.billing.checked', 'closed',
    ]);
  });

  test('activeStates are the active leaves of each region', () => {
    const result = compileFragment(def).start(scope());
    expect(result.activeStates).toEqual(['work.repair.waiting', 'work.billing.open']);
    expect(result.delays.schedule).toEqual([
      { sendId: 'xstate.after.5000.supplier.work.repair.waiting', delayMs: 5000, event: { type: 'xstate.after.5000.supplier.work.repair.waiting' } },
    ]);
  });

  test('a raised event is handled inside the same step and not returned', () => {
    const fragment = compileFragment(def);
    const { snapshot } = fragment.start(scope());
    const result = fragment.send(stored(snapshot), { type: 'REPAIRED' }, scope())!;
    expect(result.activeStates).toEqual(['work.repair.fixed', 'work.billing.checked']);
    expect(result.actions).toEqual([]);
    expect(result.delays.cancel).toEqual(['xstate.after.5000.supplier.work.repair.waiting']);
  });
});

describe('safety', () => {
  test('a guarded always loop that never settles throws INVALID_DEFINITION instead of spinning', () => {
    const loop: FragmentDefinition = {
      key: 'loop',
      version: 1,
      title: 'Loop',
      machine: {
        id: 'loop',
        initial: 'a',
        states: {
          a: { always: { target: 'b', guard: { type: 'expr', params: { expr: 'caseFile.spin == true' } } } },
          b: { always: { target: 'a', guard: { type: 'expr', params: { expr: 'caseFile.spin == true' } } } },
        },
      },
    };
    const fragment = compileFragment(loop);
    expect(fragment.start(scope({ spin: false })).activeStates).toEqual(['a']);
    expect(() => fragment.start(scope({ spin: true }))).toThrow(expect.objectContaining({ code: 'INVALID_DEFINITION' }));
  });

  test('a state entered and left in one step schedules nothing and cancels nothing', () => {
    const def = refund();
    def.machine.states.review!.on!.SKIP = 'bounce';
    def.machine.states.bounce = { after: { '1000': 'paid' }, always: 'escalated' };
    const fragment = compileFragment(def);
    const { snapshot } = fragment.start(scope());
    const result = fragment.send(snapshot, { type: 'SKIP' }, scope())!;
    expect(result.activeStates).toEqual(['escalated']);
    expect(result.delays).toEqual({ schedule: [], cancel: ['xstate.after.PT1H.refund.review'] });
  });

  test('the compiled definition is a frozen copy', () => {
    const def = refund();
    const fragment = compileFragment(def);
    def.machine.states.review!.after = { '1': 'paid' };
    expect(fragment.start(scope()).delays.schedule[0]!.delayMs).toBe(3_600_000);
    expect(Object.isFrozen(fragment.definition.machine.states)).toBe(true);
  });

  test("results match XState's own pure transition()", () => {
    const def = refund();
    const fragment = compileFragment(def);
    const reference = createMachine(
      { ...(def.machine as object), options: { maxIterations: 500 } } as never,
      { guards: { expr: () => true, milestoneReached: () => false }, delays: { PT1H: 3_600_000 } } as never,
    );
    const start = fragment.start(scope({ amount: 1 }));
    const ours = fragment.send(start.snapshot, { type: 'COMPLETE', data: { by: 'ann' } }, scope({ amount: 1 }))!;
    const [next, actions] = transition(reference, reference.resolveState({ value: 'review', context: {} }), { type: 'COMPLETE', data: { by: 'ann' } });
    expect(ours.snapshot).toEqual(reference.getPersistedSnapshot(next));
    expect(actions.map((a) => a.type)).toEqual(['xstate.cancel', 'assignCaseFile', 'emit', 'assignCaseFile']);
    expect(ours.actions.map((a) => a.type)).toEqual(['assignCaseFile', 'emit', 'assignCaseFile']);
  });

  test('a transition takes well under 0.2 ms', () => {
    const fragment = compileFragment(refund());
    const caseScope = scope({ amount: 50 });
    const snapshot = stored(fragment.start(caseScope).snapshot);
    const event = { type: 'COMPLETE', data: { by: 'ann' } };
    // V8 needs ~10,000 calls to optimize this path; cold calls are several times slower.
    for (let i = 0; i < 10_000; i++) fragment.send(snapshot, event, caseScope);
    const batches: number[] = [];
    for (let b = 0; b < 9; b++) {
      const started = performance.now();
      for (let i = 0; i < 500; i++) fragment.send(snapshot, event, caseScope);
      batches.push((performance.now() - started) / 500);
    }
    // The fastest batch: other processes share these cores, and the cost we own is the floor.
    expect(Math.min(...batches)).toBeLessThan(0.2);
  });
});
