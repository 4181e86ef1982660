import { describe, expect, it } from 'vitest';
import type { FragmentDefinition } from '../../src/fragments/types.js';
import { TEMPLATE, createHarness, effectsOf, fragmentByKey, journalTypes, openTask } from './harness.js';

function repair(version: number, partsWaiting: string): FragmentDefinition {
  return {
    key: 'repair',
    version,
    title: `Supplier repair v${version}`,
    machine: {
      id: 'repair',
      initial: 'work',
      states: {
        work: {
          type: 'parallel',
          states: {
            parts: { initial: partsWaiting, states: { [partsWaiting]: { on: { PARTS_IN: 'arrived' } }, arrived: {} } },
            visit: {
              initial: 'booking',
              states: {
                booking: { tags: ['task'], meta: { task: { title: 'Book the visit' } }, on: { COMPLETE: 'booked' } },
                booked: {},
              },
            },
          },
        },
      },
    },
  };
}

const template = {
  ...TEMPLATE,
  defaultFragments: [],
  discretionaryFragments: ['repair@1'],
  goals: [
    {
      key: 'visit-booked',
      title: 'Visit booked',
      condition: "'work.visit.booked' in fragments.repair.states",
      required: true,
    },
  ],
};

describe('parallel fragments', () => {
  it('migrates every region: mapped ones move, unmapped ones keep their path and their task', () => {
    const h = createHarness({ template, definitions: [repair(1, 'ordering'), repair(2, 'sourcing')] });
    const c = h.open();
    const added = h.ok(c, { type: 'fragment.add', source: { kind: 'library', ref: 'repair@1' } }).case;
    const f = fragmentByKey(added, 'repair');
    expect(f.activeStates).toEqual(expect.arrayContaining(['work.parts.ordering', 'work.visit.booking']));
    const task = openTask(added, 'work.visit.booking');

    const d = h.ok(added, {
      type: 'fragment.migrate',
      fragmentId: f.id,
      to: 'repair@2',
      stateMapping: { 'work.parts.ordering': 'work.parts.sourcing' },
      reason: 'supplier renamed the step',
    });
    expect([...fragmentByKey(d.case, 'repair').activeStates!].sort()).toEqual(['work.parts.sourcing', 'work.visit.booking']);
    expect(openTask(d.case, 'work.visit.booking').id).toBe(task.id);
    expect(effectsOf(d.effects, 'task.upsert')).toEqual([]);
  });

  it('goal conditions read fragment states: completing the region task achieves the goal and resolves', () => {
    const h = createHarness({ template, definitions: [repair(1, 'ordering')] });
    const c = h.open();
    const added = h.ok(c, { type: 'fragment.add', source: { kind: 'library', ref: 'repair@1' } }).case;
    expect(added.goals[0]!.status).toBe('open');
    const d = h.ok(added, { type: 'task.complete', taskId: openTask(added, 'work.visit.booking').id, output: {} });
    expect(d.case.goals[0]!.status).toBe('achieved');
    expect(d.case.status).toBe('resolved');
    expect(journalTypes(d)).toEqual(expect.arrayContaining(['task.completed', 'goal.achieved', 'case.resolved']));
  });
});
