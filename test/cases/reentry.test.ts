/**
 * Self-transitions and re-entry, as XState v5 defines them:
 * - `{ target: 'calling', reenter: true }` from `calling` exits and enters it again (exit/entry
 *   actions, `after` timers re-armed, the task reopened);
 * - `target: 'calling'` without `reenter` from the leaf `calling` is internal: only the
 *   transition's actions run, nothing is exited or entered — but the event is taken;
 * - a targetless transition with actions runs them without exit/entry;
 * - a targetless transition without actions is XState's "forbidden" transition: not accepted.
 */
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/cases/engine.js';
import type { CaseState, Command } from '../../src/cases/types.js';
import type { FragmentDefinition } from '../../src/fragments/types.js';
import { validateFragmentDefinition } from '../../src/fragments/validate-definition.js';
import { TEMPLATE, TIMER, createHarness, effectsOf, fragmentByKey, journalTypes, openTask, outbox } from './harness.js';

const CALL_V1: FragmentDefinition = {
  key: 'call',
  version: 1,
  title: 'Call the customer',
  machine: {
    id: 'call',
    initial: 'calling',
    states: {
      calling: {
        tags: ['task'],
        meta: { task: { title: 'Call the customer', event: 'CALL_DONE' } },
        entry: [{ type: 'emit', params: { eventType: 'call.started' } }],
        exit: [{ type: 'emit', params: { eventType: 'call.ended' } }],
        after: { PT1H: { target: 'calling', reenter: true } },
        on: {
          NO_ANSWER: {
            target: 'calling',
            reenter: true,
            actions: [{ type: 'assignCaseFile', params: { path: 'call.attempt', fromEvent: 'data.attempt' } }],
          },
          BUSY: 'calling',
          NOTE: { actions: [{ type: 'assignCaseFile', params: { path: 'call.note', fromEvent: 'data.note' } }] },
          IGNORED: {},
          CALL_DONE: 'done',
        },
      },
      done: { type: 'final' },
    },
  },
};

function calling() {
  const h = createHarness({
    template: { ...TEMPLATE, defaultFragments: ['call@1'], discretionaryFragments: [], goals: [] },
    definitions: [CALL_V1],
  });
  const c = h.open();
  return { h, c };
}

const pending = (c: CaseState) => Object.values(fragmentByKey(c, 'call').pendingTimers ?? {});

describe('re-entry (reenter: true)', () => {
  it('is a valid definition', () => {
    expect(validateFragmentDefinition(CALL_V1)).toMatchObject({ ok: true });
  });

  it('exits and enters the state again: exit/entry actions, the timer re-armed, the task reopened', () => {
    const { h, c } = calling();
    const task = openTask(c, 'calling');
    const [timer] = pending(c);
    const d = h.ok(c, { type: 'event.send', event: { type: 'NO_ANSWER', data: { attempt: 1 } } });
    expect(d.result).toEqual({ delivered: [fragmentByKey(c, 'call').id] });
    expect(fragmentByKey(d.case, 'call').activeStates).toEqual(['calling']);
    // Exit, transition actions, entry — in XState's order.
    expect(outbox(d.effects)).toEqual(['call.ended', 'call.started', 'task.assigned']);
    expect(d.case.caseFile['call']).toEqual({ attempt: 1 });
    // The old task is cancelled, a new one opened for the same state.
    const reopened = openTask(d.case, 'calling');
    expect(reopened.id).not.toBe(task.id);
    expect(journalTypes(d)).toEqual(['event.received', 'case_file.assigned', 'task.cancelled', 'task.opened']);
    expect(effectsOf(d.effects, 'task.upsert').map((e) => [e.task.id, e.task.status])).toEqual([
      [task.id, 'cancelled'],
      [reopened.id, 'open'],
    ]);
    // The old timer is cancelled and a new one armed, an hour from now.
    expect(effectsOf(d.effects, 'timer.cancel').map((e) => e.timerId)).toEqual([timer]);
    const [scheduled] = effectsOf(d.effects, 'timer.schedule');
    expect(scheduled!.timer.dueAt).toBe(new Date(h.now().getTime() + 3_600_000).toISOString());
    expect(pending(d.case)).toEqual([scheduled!.timer.id]);
    expect(d.case.version).toBe(c.version + 1);
  });

  it('an `after` timer that re-enters its own state re-arms itself and reopens the task', () => {
    const { h, c } = calling();
    const task = openTask(c, 'calling');
    const [timer] = pending(c);
    h.advance(3_600_000);
    const d = h.ok(c, { type: 'timer.fire', timerId: timer! }, TIMER);
    expect(fragmentByKey(d.case, 'call').activeStates).toEqual(['calling']);
    expect(journalTypes(d)).toEqual(['timer.fired', 'task.cancelled', 'task.opened']);
    expect(openTask(d.case, 'calling').id).not.toBe(task.id);
    // The fired timer is spent (no cancel for it); a new one is armed.
    expect(effectsOf(d.effects, 'timer.cancel')).toEqual([]);
    const [scheduled] = effectsOf(d.effects, 'timer.schedule');
    expect(scheduled!.timer.id).not.toBe(timer);
    expect(pending(d.case)).toEqual([scheduled!.timer.id]);
    // And that one fires again, the same way.
    h.advance(3_600_000);
    const again = h.ok(d.case, { type: 'timer.fire', timerId: scheduled!.timer.id }, TIMER);
    expect(effectsOf(again.effects, 'timer.schedule')).toHaveLength(1);
  });
});

describe('a transition to its own state without reenter', () => {
  it('is taken (not "does not accept"), and is internal for a leaf: no exit, no entry, same task, same timer', () => {
    const { h, c } = calling();
    const task = openTask(c, 'calling');
    const timers = pending(c);
    expect(h.decide(c, { type: 'event.send', event: { type: 'BUSY' } }).ok).toBe(true);
    const d = h.ok(c, { type: 'event.send', event: { type: 'BUSY' } });
    expect(d.result).toEqual({ delivered: [fragmentByKey(c, 'call').id] });
    expect(journalTypes(d)).toEqual(['event.received']);
    expect(d.journal[0]!.data).toMatchObject({ event: 'BUSY', fragmentIds: [fragmentByKey(c, 'call').id] });
    expect(outbox(d.effects)).toEqual([]);
    expect(effectsOf(d.effects, 'timer.schedule')).toEqual([]);
    expect(effectsOf(d.effects, 'timer.cancel')).toEqual([]);
    expect(openTask(d.case, 'calling').id).toBe(task.id);
    expect(pending(d.case)).toEqual(timers);
    expect(d.case.version).toBe(c.version + 1);
  });
});

describe('targetless transitions', () => {
  it('with actions: the actions run, nothing is exited or entered', () => {
    const { h, c } = calling();
    const task = openTask(c, 'calling');
    const d = h.ok(c, { type: 'event.send', event: { type: 'NOTE', data: { note: 'left a voicemail' } } });
    expect(d.case.caseFile['call']).toEqual({ note: 'left a voicemail' });
    expect(journalTypes(d)).toEqual(['event.received', 'case_file.assigned']);
    expect(outbox(d.effects)).toEqual([]);
    expect(openTask(d.case, 'calling').id).toBe(task.id);
  });

  it('without actions (XState\'s "forbidden" transition): not accepted, and not listed as accepted', () => {
    const { h, c } = calling();
    const error = h.rejects(c, { type: 'event.send', event: { type: 'IGNORED' } }, 'EVENT_NOT_ACCEPTED');
    expect(error.details?.['accepted_events']).not.toContain('IGNORED');
  });
});

/** Small fragments covering the shapes of transitions; walked exhaustively below. */
const WALKED: FragmentDefinition[] = [
  CALL_V1,
  {
    key: 'nested',
    version: 1,
    title: 'Nested',
    machine: {
      id: 'nested',
      initial: 'work',
      states: {
        work: {
          initial: 'draft',
          on: { RESET: { target: 'work', reenter: true }, STAY: 'work', CANCEL: 'cancelled' },
          states: {
            draft: {
              tags: ['task'],
              meta: { task: { title: 'Draft', event: 'DRAFTED' } },
              on: { DRAFTED: 'review', REDRAFT: 'draft', TOUCH: { actions: [{ type: 'setMilestone', params: { key: 'touched' } }] } },
            },
            review: {
              on: {
                APPROVE: { target: '#nested.approved', guard: { type: 'milestoneReached', params: { key: 'touched' } } },
                REJECT: { target: 'draft', reenter: true },
                AGAIN: { target: 'review', reenter: true },
                BLOCK: {},
              },
            },
          },
        },
        approved: { type: 'final' },
        cancelled: { type: 'final' },
      },
    },
  },
  {
    key: 'split',
    version: 1,
    title: 'Parallel',
    machine: {
      id: 'split',
      initial: 'both',
      states: {
        both: {
          type: 'parallel',
          on: { RESTART: { target: 'both', reenter: true } },
          states: {
            left: {
              initial: 'a',
              states: { a: { on: { L: 'b', LOOP: 'a' } }, b: { on: { L: { target: 'b', reenter: true } } } },
            },
            right: {
              initial: 'x',
              states: {
                x: { on: { R: 'y', NOTE: { actions: [{ type: 'assignCaseFile', params: { path: 'note', value: 'n' } }] } } },
                y: { type: 'final' },
              },
            },
          },
        },
      },
    },
  },
];

const CANDIDATES = [
  ...new Set(
    WALKED.flatMap((def) => JSON.stringify(def.machine).match(/"[A-Z][A-Z_]*"(?=:)/g)?.map((s) => s.slice(1, -1)) ?? []),
  ),
].sort();

describe('the accepted-events list never offers what will be refused', () => {
  it.each(WALKED.map((def) => [def.key, def] as const))('%s: in every reachable state, listed <=> accepted when sent', (_key, def) => {
    const h = createHarness({
      template: { ...TEMPLATE, defaultFragments: [`${def.key}@1`], discretionaryFragments: [], goals: [] },
      definitions: [def],
    });
    const seen = new Set<string>();
    // Owned by the harness agent: task events sent through event.send are hers to send.
    let frontier: CaseState[] = [h.open({ ownerId: 'ana' })];
    let checked = 0;
    for (let depth = 0; depth < 6 && frontier.length > 0; depth++) {
      const next: CaseState[] = [];
      for (const c of frontier) {
        const key = JSON.stringify([c.fragments.map((f) => [f.status, f.activeStates]), c.milestones]);
        if (seen.has(key)) continue;
        seen.add(key);
        const listed = new Set(acceptedOf(h, c));
        for (const type of CANDIDATES) {
          const command: Command = { type: 'event.send', event: { type, data: { attempt: 1, note: 'n' } } };
          const decision = h.decide(c, command);
          checked++;
          if (listed.has(type)) {
            expect(decision.ok, `${type} listed in ${key} but refused: ${decision.ok ? '' : decision.error.message}`).toBe(true);
            if (decision.ok && decision.case.status === 'open') next.push(decision.case);
          } else {
            expect(decision.ok, `${type} not listed in ${key} but accepted`).toBe(false);
          }
        }
      }
      frontier = next;
    }
    expect(seen.size, [...seen].join("\n")).toBeGreaterThan(1);
    expect(checked).toBeGreaterThan(CANDIDATES.length);
  });
});

/** The accepted-events read model (what GET /v1/cases/:id lists). */
function acceptedOf(h: ReturnType<typeof createHarness>, c: CaseState): string[] {
  return createEngine().acceptedEvents(c, { definitions: (ref) => h.definitions.get(ref) }).all;
}
