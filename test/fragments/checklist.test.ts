import { describe, expect, test } from 'vitest';
import { buildChecklistDefinition } from '../../src/fragments/checklist.js';
import { DefinitionError } from '../../src/fragments/definition-error.js';
import { compileFragment, type Scope } from '../../src/fragments/runtime.js';
import { validateFragmentDefinition } from '../../src/fragments/validate-definition.js';

const scope: Scope = { caseFile: {}, milestones: {}, case: { id: 'case-1', status: 'open', priority: 'normal' } };

describe('buildChecklistDefinition', () => {
  test('builds one task state per step, in order, then done', () => {
    const def = buildChecklistDefinition('Call back', ['Call the customer', ' Log the call '], 'inline:frag-1');
    expect(def).toEqual({
      key: 'inline:frag-1',
      version: 1,
      title: 'Call back',
      machine: {
        id: 'checklist',
        initial: 'step1',
        states: {
          step1: { tags: ['task'], meta: { task: { title: 'Call the customer' } }, on: { COMPLETE: 'step2' } },
          step2: { tags: ['task'], meta: { task: { title: 'Log the call' } }, on: { COMPLETE: 'done' } },
          done: { type: 'final' },
        },
      },
    });
    expect(validateFragmentDefinition(def).ok).toBe(true);
  });

  test('COMPLETE walks the steps to done, one task at a time', () => {
    const fragment = compileFragment(buildChecklistDefinition('Steps', ['One', 'Two', 'Three'], 'inline:f'));
    let result = fragment.start(scope);
    const seen: string[] = [];
    while (result.status === 'active') {
      const tasks = fragment.taskStates(result.snapshot);
      expect(tasks).toHaveLength(1);
      seen.push(tasks[0]!.spec.title);
      expect(fragment.acceptedEvents(result.snapshot, scope)).toEqual(['COMPLETE']);
      result = fragment.send(result.snapshot, { type: 'COMPLETE' }, scope)!;
    }
    expect(seen).toEqual(['One', 'Two', 'Three']);
    expect(result.activeStates).toEqual(['done']);
    expect(fragment.taskStates(result.snapshot)).toEqual([]);
  });

  test('a step-less or blank-step checklist is refused', () => {
    expect(() => buildChecklistDefinition('Empty', [], 'inline:f')).toThrow(DefinitionError);
    expect(() => buildChecklistDefinition('Blank', ['ok', '  '], 'inline:f')).toThrow(/steps\[1\]/);
  });

  test('more than 100 steps is refused', () => {
    const steps = Array.from({ length: 101 }, (_, i) => `Step ${i}`);
    expect(() => buildChecklistDefinition('Long', steps, 'inline:f')).toThrow(expect.objectContaining({ code: 'INVALID_DEFINITION' }));
  });
});
