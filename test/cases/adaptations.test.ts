import { describe, expect, it } from 'vitest';
import type { CaseState } from '../../src/cases/types.js';
import { SUPERVISOR, createHarness, effectsOf, fragmentByKey, journalTypes, openTask } from './harness.js';

function withRefund() {
  const h = createHarness();
  const c = h.open();
  const d = h.ok(c, { type: 'fragment.add', source: { kind: 'library', ref: 'refund@1' }, reason: 'refund requested' });
  return { h, c: d.case, d, refund: fragmentByKey(d.case, 'refund') };
}

describe('fragment.add', () => {
  it('adds a discretionary library fragment, started, with its task', () => {
    const { d, refund } = withRefund();
    expect(refund).toMatchObject({ definition: 'refund@1', status: 'active', activeStates: ['review'] });
    expect(d.result).toEqual({ fragmentId: refund.id, definition: 'refund@1' });
    expect(d.journal[0]).toMatchObject({ type: 'fragment.added', reason: 'refund requested', data: { fragmentId: refund.id, source: 'library' } });
    expect(effectsOf(d.effects, 'task.upsert')).toHaveLength(1);
    expect(effectsOf(d.effects, 'definition.store')).toEqual([]);
  });

  it('refuses a library fragment the template does not offer, and one the library does not have', () => {
    const h = createHarness();
    const c = h.open();
    h.rejects(c, { type: 'fragment.add', source: { kind: 'library', ref: 'refund@2' } }, 'FRAGMENT_NOT_DISCRETIONARY');
    h.definitions.delete('public-reply@1');
    h.rejects(c, { type: 'fragment.add', source: { kind: 'library', ref: 'public-reply@1' } }, 'DEFINITION_NOT_FOUND');
  });

  it('the fragment assignment routes its tasks', () => {
    const h = createHarness();
    const c = h.open();
    const d = h.ok(c, { type: 'fragment.add', source: { kind: 'library', ref: 'refund@1' }, assignment: { userId: 'sam' } });
    expect(openTask(d.case, 'review').assignment).toEqual({ userId: 'sam' });
  });

  it('adds an inline definition: validated, stored as inline-<fragmentId>@1, started', () => {
    const h = createHarness();
    const c = h.open();
    const d = h.ok(c, {
      type: 'fragment.add',
      source: {
        kind: 'inline',
        definition: {
          title: 'Call back',
          machine: {
            id: 'callBack',
            initial: 'calling',
            states: {
              calling: { tags: ['task'], meta: { task: { title: 'Call the customer' } }, on: { COMPLETE: 'done' } },
              done: { type: 'final' },
            },
          },
        },
      },
      reason: 'customer prefers phone',
    });
    const f = d.case.fragments.at(-1)!;
    expect(f.definition).toBe(`inline-${f.id}@1`);
    const [stored] = effectsOf(d.effects, 'definition.store');
    expect(stored!.definition).toMatchObject({ key: `inline-${f.id}`, version: 1, title: 'Call back' });
    const task = openTask(d.case, 'calling');
    expect(task.event).toBe('COMPLETE');
    // The stored definition is what later commands run on.
    const done = h.ok(d.case, { type: 'task.complete', taskId: task.id, output: {} });
    expect(done.case.fragments.at(-1)!.status).toBe('done');
  });

  it('refuses an invalid inline definition with its problems', () => {
    const h = createHarness();
    const c = h.open();
    const error = h.rejects(
      c,
      {
        type: 'fragment.add',
        source: {
          kind: 'inline',
          definition: { title: 'Bad', machine: { id: 'bad', initial: 'nowhere', states: { a: { entry: [{ type: 'runShell' }] } } } },
        },
      },
      'INVALID_DEFINITION',
    );
    expect(error.details?.['problems']).toEqual(expect.arrayContaining([expect.objectContaining({ path: expect.any(String), message: expect.any(String) })]));
  });

  it('builds and stores a checklist fragment from steps', () => {
    const h = createHarness();
    const c = h.open();
    const d = h.ok(c, { type: 'fragment.add', source: { kind: 'checklist', title: 'Before refund', steps: ['Check order', 'Check stock'] } });
    const f = d.case.fragments.at(-1)!;
    expect(f.title).toBe('Before refund');
    expect(effectsOf(d.effects, 'definition.store')).toHaveLength(1);
    expect(f.definition).toBe(`${effectsOf(d.effects, 'definition.store')[0]!.definition.key}@1`);
    // Working through the checklist completes the fragment.
    let state: CaseState = d.case;
    for (let i = 0; i < 2; i += 1) {
      const task = state.tasks.find((t) => t.fragmentId === f.id)!;
      expect(task).toBeDefined();
      state = h.ok(state, { type: 'task.complete', taskId: task.id, output: {} }).case;
    }
    expect(state.fragments.at(-1)!.status).toBe('done');
  });
});

describe('fragment.migrate', () => {
  it('moves a running fragment to a new version with a state mapping', () => {
    const { h, c, refund } = withRefund();
    const oldTask = openTask(c, 'review');
    const d = h.ok(c, { type: 'fragment.migrate', fragmentId: refund.id, to: 'refund@2', stateMapping: { review: 'assess' }, reason: 'new policy' });
    const migrated = fragmentByKey(d.case, 'refund');
    expect(migrated).toMatchObject({ definition: 'refund@2', activeStates: ['assess'], title: 'Refund approval (v2)' });
    expect(openTask(d.case, 'assess').title).toBe('Assess the refund');
    expect(d.case.tasks.map((t) => t.id)).not.toContain(oldTask.id);
    expect(d.result).toMatchObject({
      from: { definition: 'refund@1', states: ['review'] },
      to: { definition: 'refund@2', states: ['assess'] },
      tasks: { closed: [{ id: oldTask.id, stateKey: 'review' }], opened: [{ stateKey: 'assess' }] },
      timers: { cancelled: [], scheduled: [{ event: expect.stringMatching(/^xstate\.after\./) }] },
    });
    expect(journalTypes(d)[0]).toBe('fragment.migrated');
    expect(d.journal[0]!.reason).toBe('new policy');
  });

  it('dry run describes the change and leaves the case unchanged, writing nothing', () => {
    const { h, c, refund } = withRefund();
    const command = { type: 'fragment.migrate', fragmentId: refund.id, to: 'refund@2', stateMapping: { review: 'assess' }, reason: 'try', dryRun: true } as const;
    const d = h.ok(c, command);
    expect(d.case).toBe(c);
    expect(d.effects).toEqual([]);
    expect(d.journal).toEqual([]);
    expect(d.result).toMatchObject({
      dryRun: true,
      from: { states: ['review'] },
      to: { states: ['assess'] },
      tasks: { closed: [{ stateKey: 'review' }], opened: [{ stateKey: 'assess' }] },
    });
  });

  it('refuses a mapping to a state that does not exist, and an unmapped state missing from the new version', () => {
    const { h, c, refund } = withRefund();
    const error = h.rejects(
      c,
      { type: 'fragment.migrate', fragmentId: refund.id, to: 'refund@2', stateMapping: { review: 'approving' }, reason: 'r' },
      'STATE_NOT_FOUND',
    );
    expect(error.details).toMatchObject({ state: 'approving' });
    expect(error.details?.['states']).toEqual(expect.arrayContaining(['assess', 'paid']));
    h.rejects(c, { type: 'fragment.migrate', fragmentId: refund.id, to: 'refund@2', stateMapping: {}, reason: 'r' }, 'STATE_NOT_FOUND');
    h.rejects(c, { type: 'fragment.migrate', fragmentId: refund.id, to: 'refund@9', stateMapping: {}, reason: 'r' }, 'DEFINITION_NOT_FOUND');
    h.rejects(c, { type: 'fragment.migrate', fragmentId: refund.id, to: 'refund@2', stateMapping: { review: 'assess' }, reason: ' ' }, 'REASON_REQUIRED');
  });

  it('cancels the timers of the old snapshot', () => {
    const { h, c, refund } = withRefund();
    const held = h.ok(c, { type: 'event.send', event: { type: 'HOLD' } }).case;
    const holdTimer = Object.values(fragmentByKey(held, 'refund').pendingTimers ?? {})[0]!;
    expect(holdTimer).toBeDefined();
    const d = h.ok(held, { type: 'fragment.migrate', fragmentId: refund.id, to: 'refund@2', stateMapping: { onHold: 'assess' }, reason: 'r' });
    expect(effectsOf(d.effects, 'timer.cancel').map((e) => e.timerId)).toEqual([holdTimer]);
    expect(Object.values(fragmentByKey(d.case, 'refund').pendingTimers ?? {})).not.toContain(holdTimer);
  });
});

describe('fragment.jump', () => {
  it('moves a fragment to a state, with a reason in the journal', () => {
    const { h, c, refund } = withRefund();
    const d = h.ok(c, { type: 'fragment.jump', fragmentId: refund.id, state: 'onHold', reason: 'waiting for the supplier' }, SUPERVISOR);
    expect(fragmentByKey(d.case, 'refund').activeStates).toEqual(['onHold']);
    expect(d.journal[0]).toMatchObject({ type: 'fragment.jumped', reason: 'waiting for the supplier', actor: SUPERVISOR });
    // Leaving the task state cancels its task; entering onHold arms its delay.
    expect(effectsOf(d.effects, 'task.upsert').map((e) => e.task.status)).toEqual(['cancelled']);
    expect(effectsOf(d.effects, 'timer.schedule')).toHaveLength(1);
  });

  it('jumping to a final state completes the fragment', () => {
    const { h, c, refund } = withRefund();
    const d = h.ok(c, { type: 'fragment.jump', fragmentId: refund.id, state: 'paid', reason: 'paid by phone' });
    expect(fragmentByKey(d.case, 'refund').status).toBe('done');
    expect(d.case.milestones['refunded']).toBeDefined();
  });

  it('needs a reason and an existing state', () => {
    const { h, c, refund } = withRefund();
    h.rejects(c, { type: 'fragment.jump', fragmentId: refund.id, state: 'onHold', reason: '' }, 'REASON_REQUIRED');
    h.rejects(c, { type: 'fragment.jump', fragmentId: refund.id, state: 'nowhere', reason: 'r' }, 'STATE_NOT_FOUND');
    h.rejects(c, { type: 'fragment.jump', fragmentId: 'nope', state: 'onHold', reason: 'r' }, 'FRAGMENT_NOT_FOUND');
  });
});

describe('fragment.cancel', () => {
  it('cancels the fragment with its open tasks and timers', () => {
    const { h, c, refund } = withRefund();
    const held = h.ok(c, { type: 'event.send', event: { type: 'HOLD' } }).case;
    const back = h.ok(held, { type: 'event.send', event: { type: 'RESUME' } }).case;
    const task = openTask(back, 'review');
    const onHoldAgain = h.ok(back, { type: 'event.send', event: { type: 'HOLD' } }).case;
    const timerId = Object.values(fragmentByKey(onHoldAgain, 'refund').pendingTimers ?? {})[0]!;
    const d = h.ok(onHoldAgain, { type: 'fragment.cancel', fragmentId: refund.id, reason: 'customer withdrew' });
    expect(fragmentByKey(d.case, 'refund')).toMatchObject({ status: 'cancelled', endedAt: h.now().toISOString(), pendingTimers: {} });
    expect(effectsOf(d.effects, 'timer.cancel').map((e) => e.timerId)).toEqual([timerId]);
    expect(d.journal.at(-1)).toMatchObject({ type: 'fragment.cancelled', reason: 'customer withdrew' });
    expect(task.id).toBeDefined();

    // With an open task:
    const d2 = h.ok(back, { type: 'fragment.cancel', fragmentId: refund.id, reason: 'customer withdrew' });
    expect(effectsOf(d2.effects, 'task.upsert').map((e) => [e.task.id, e.task.status])).toEqual([[task.id, 'cancelled']]);
    expect(d2.case.tasks.find((t) => t.id === task.id)).toBeUndefined();
    h.rejects(d2.case, { type: 'fragment.cancel', fragmentId: refund.id, reason: 'again' }, 'FRAGMENT_NOT_ACTIVE');
    h.rejects(back, { type: 'fragment.cancel', fragmentId: refund.id, reason: '' }, 'REASON_REQUIRED');
  });
});

describe('fragment.reassign', () => {
  it('gives the fragment and its open tasks to a person; later tasks follow', () => {
    const { h, c, refund } = withRefund();
    const d = h.ok(c, { type: 'fragment.reassign', fragmentId: refund.id, assignment: { userId: 'sam' }, reason: 'expert' });
    expect(fragmentByKey(d.case, 'refund').assignment).toEqual({ userId: 'sam' });
    expect(openTask(d.case, 'review').assignment).toEqual({ userId: 'sam' });
    expect(effectsOf(d.effects, 'task.upsert')).toHaveLength(1);
    const reopened = h.ok(h.ok(d.case, { type: 'event.send', event: { type: 'HOLD' } }).case, { type: 'event.send', event: { type: 'RESUME' } }).case;
    expect(openTask(reopened, 'review').assignment).toEqual({ userId: 'sam' });
    h.rejects(c, { type: 'fragment.reassign', fragmentId: refund.id, assignment: {} }, 'VALIDATION_FAILED');
  });
});
