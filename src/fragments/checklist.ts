import { DefinitionError } from './definition-error.js';
import type { FragmentDefinition, StateJson } from './types.js';

/** Steps a checklist may have: one state each plus `done` stays within the 200-state limit. */
export const MAX_CHECKLIST_STEPS = 100;

/**
 * A quick fragment from a list of step titles: one state tagged `task` per step, in order
 * (`step1`, `step2`, ...); completing a step's task (event `COMPLETE`) moves to the next;
 * after the last step the fragment ends in the final state `done`.
 * Throws DefinitionError INVALID_DEFINITION for no steps, blank steps or too many steps.
 */
export function buildChecklistDefinition(title: string, steps: string[], key: string): FragmentDefinition {
  const titles = steps.map((step) => (typeof step === 'string' ? step.trim() : ''));
  const problems = titles.flatMap((step, i) =>
    step === '' ? [{ path: `steps[${i}]`, message: 'A step needs a title.' }]
      : step.length > 200 ? [{ path: `steps[${i}]`, message: 'A step title has at most 200 characters.' }] : [],
  );
  if (titles.length === 0) problems.push({ path: 'steps', message: 'A checklist needs at least one step.' });
  if (titles.length > MAX_CHECKLIST_STEPS) {
    problems.push({ path: 'steps', message: `A checklist has at most ${MAX_CHECKLIST_STEPS} steps; split it into several checklists.` });
  }
  if (problems.length > 0) {
    throw new DefinitionError('INVALID_DEFINITION', `The checklist is invalid: ${problems[0]!.path}: ${problems[0]!.message}`, problems);
  }
  const states: Record<string, StateJson> = {};
  titles.forEach((stepTitle, i) => {
    states[`step${i + 1}`] = {
      tags: ['task'],
      meta: { task: { title: stepTitle } },
      on: { COMPLETE: i + 1 < titles.length ? `step${i + 2}` : 'done' },
    };
  });
  states.done = { type: 'final' };
  return {
    key,
    version: 1,
    title,
    machine: { id: 'checklist', initial: 'step1', states },
  };
}
