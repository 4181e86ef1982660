/**
 * The template's case-file schema holds after every command, whichever fragment action wrote
 * the case file; and it is read as JSON Schema draft 2020-12, as the loader checks it.
 */
import { describe, expect, it } from 'vitest';
import type { CaseState } from '../../src/cases/types.js';
import type { FragmentDefinition } from '../../src/fragments/types.js';
import { validateFragmentDefinition } from '../../src/fragments/validate-definition.js';
import type { CaseTemplate } from '../../src/templates/types.js';
import { TEMPLATE, TIMER, createHarness, effectsOf, fragmentByKey, journalTypes, openTask } from './harness.js';

/** Survey answers come as an event, a task, a timer and an escalation; each writes survey.score. */
const SURVEY_V1: FragmentDefinition = {
  key: 'survey',
  version: 1,
  title: 'Survey',
  machine: {
    id: 'survey',
    initial: 'asking',
    states: {
      asking: {
        tags: ['task'],
        meta: { task: { title: 'Record the answer', event: 'RECORDED' } },
        after: { PT1H: 'expired' },
        on: {
          ANSWERED: {
            target: 'answered',
            actions: [
              { type: 'assignCaseFile', params: { path: 'survey.score', fromEvent: 'data.score' } },
              { type: 'assignCaseFile', params: { path: 'survey.comment', fromEvent: 'data.comment' } },
            ],
          },
          RECORDED: {
            target: 'answered',
            actions: [{ type: 'assignCaseFile', params: { path: 'survey.score', fromEvent: 'data.score' } }],
          },
          NOTE: { actions: [{ type: 'assignCaseFile', params: { path: 'note', fromEvent: 'data.note' } }] },
        },
      },
      // A broken default: the schema says the score is 1-5.
      expired: { entry: [{ type: 'assignCaseFile', params: { path: 'survey.score', value: 0 } }], on: { ANSWERED: 'answered' } },
      answered: { type: 'final' },
    },
  },
};

/** Started by the breach escalation; its entry writes what the schema refuses. */
const CALLBACK_V1: FragmentDefinition = {
  key: 'callback',
  version: 1,
  title: 'Call back',
  machine: {
    id: 'callback',
    initial: 'due',
    states: { due: { entry: [{ type: 'assignCaseFile', params: { path: 'survey.score', value: 'call me' } }], on: { DONE: 'done' } }, done: { type: 'final' } },
  },
};

const SCHEMA = {
  type: 'object',
  properties: {
    orderId: { type: 'string' },
    note: { type: 'string' },
    survey: {
      type: 'object',
      properties: { score: { type: 'number', minimum: 1, maximum: 5 }, comment: { type: 'string' } },
      // 2020-12: a comment needs a score.
      dependentRequired: { comment: ['score'] },
    },
  },
};

const SURVEY_TEMPLATE: CaseTemplate = {
  ...TEMPLATE,
  caseFileSchema: SCHEMA,
  goals: [{ key: 'replied', title: 'Reply', condition: 'has(milestones.replied)', required: true, deadline: 'PT4H' }],
  defaultFragments: ['survey@1'],
  discretionaryFragments: ['callback@1'],
  slas: [{ goal: 'replied', onBreach: [{ action: 'startFragment', fragment: 'callback@1' }, { action: 'setPriority', priority: 'urgent' }] }],
};

function surveyCase() {
  const h = createHarness({ template: SURVEY_TEMPLATE, definitions: [SURVEY_V1, CALLBACK_V1] });
  // Owned by the harness agent (ana): she may send her case's task events through /events.
  return { h, c: h.open({ ownerId: 'ana' }) };
}

describe('every change to the case file is checked against the template schema', () => {
  it('an event whose data breaks a maximum is refused (422 CASE_FILE_WRITE_INVALID) naming the pointer and the action that wrote it', () => {
    const { h, c } = surveyCase();
    const error = h.rejects(c, { type: 'event.send', event: { type: 'ANSWERED', data: { score: 99, comment: 'great' } } }, 'CASE_FILE_WRITE_INVALID');
    const survey = fragmentByKey(c, 'survey');
    expect(error.details?.['errors']).toEqual([
      {
        pointer: '/survey/score',
        in: 'case_file',
        detail: 'must be <= 5',
        written_by: [{ fragment_id: survey.id, definition: 'survey@1', action: 'assignCaseFile', path: 'survey.score' }],
      },
    ]);
    expect(error.message).toContain('/survey/score must be <= 5 (written by assignCaseFile survey.score of fragment survey@1');
  });

  it('a string where a number belongs is refused', () => {
    const { h, c } = surveyCase();
    const error = h.rejects(c, { type: 'event.send', event: { type: 'ANSWERED', data: { score: '5', comment: 'x' } } }, 'CASE_FILE_WRITE_INVALID');
    expect(error.details?.['errors']).toEqual([expect.objectContaining({ pointer: '/survey/score', detail: 'must be number' })]);
  });

  it('a task output mapped into the case file is refused; the task stays open', () => {
    const { h, c } = surveyCase();
    const task = openTask(c, 'asking');
    const error = h.rejects(c, { type: 'task.complete', taskId: task.id, output: { score: 6 } }, 'CASE_FILE_WRITE_INVALID');
    expect(error.details?.['errors']).toEqual([expect.objectContaining({ pointer: '/survey/score', detail: 'must be <= 5' })]);
    // The same data through /events completes the task the same way, and is refused the same way.
    h.rejects(c, { type: 'event.send', event: { type: 'RECORDED', data: { score: 6 } } }, 'CASE_FILE_WRITE_INVALID');
  });

  it('valid data is stored as before', () => {
    const { h, c } = surveyCase();
    const d = h.ok(c, { type: 'event.send', event: { type: 'ANSWERED', data: { score: 4, comment: 'fine' } } });
    expect(d.case.caseFile['survey']).toEqual({ score: 4, comment: 'fine' });
  });

  it('2020-12 keywords hold at run time: dependentRequired refuses a comment without a score', () => {
    const { h, c } = surveyCase();
    // fromEvent of a missing field writes nothing: only survey.comment is written.
    const error = h.rejects(c, { type: 'event.send', event: { type: 'ANSWERED', data: { comment: 'no score' } } }, 'CASE_FILE_WRITE_INVALID');
    expect(error.details?.['errors']).toEqual([expect.objectContaining({ pointer: '/survey', detail: 'must have property score when property comment is present' })]);
  });

  it('a case file that was already invalid (stored before the check) still takes commands that do not add problems', () => {
    const { h, c } = surveyCase();
    const legacy: CaseState = { ...structuredClone(c), caseFile: { ...c.caseFile, survey: { score: 42 } } };
    const d = h.ok(legacy, { type: 'event.send', event: { type: 'NOTE', data: { note: 'called twice' } } });
    expect(d.case.caseFile['note']).toBe('called twice');
    // ... but not one that writes a new problem.
    h.rejects(legacy, { type: 'event.send', event: { type: 'NOTE', data: { note: 7 } } }, 'CASE_FILE_WRITE_INVALID');
  });

  it('a default fragment whose first step breaks the schema: the case does not open', () => {
    const h = createHarness({ template: { ...SURVEY_TEMPLATE, defaultFragments: ['callback@1'] }, definitions: [SURVEY_V1, CALLBACK_V1] });
    const d = h.decide(undefined, { type: 'case.open', input: { title: 'x', caseFile: {} } });
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error.code).toBe('CASE_FILE_WRITE_INVALID');
  });

  it('adding a fragment whose entry breaks the schema is refused', () => {
    const { h, c } = surveyCase();
    h.rejects(c, { type: 'fragment.add', source: { kind: 'library', ref: 'callback@1' } }, 'CASE_FILE_WRITE_INVALID', { id: 'sam', role: 'supervisor' });
  });
});

describe('timers that would break the case file', () => {
  it('a fragment delay fails alone: the timer is spent, the fragment stays, the case journals timer.failed with the reason', () => {
    const { h, c } = surveyCase();
    const survey = fragmentByKey(c, 'survey');
    const [timerId] = Object.values(survey.pendingTimers ?? {});
    const task = openTask(c, 'asking');
    h.advance(3_600_000);
    const d = h.ok(c, { type: 'timer.fire', timerId: timerId! }, TIMER);
    expect(d.result).toEqual({ timerId, fragmentId: survey.id, failed: 'CASE_FILE_WRITE_INVALID' });
    expect(journalTypes(d)).toEqual(['timer.failed']);
    expect(d.journal[0]!.data).toMatchObject({
      timerId,
      fragmentId: survey.id,
      code: 'CASE_FILE_WRITE_INVALID',
      errors: [expect.objectContaining({ pointer: '/survey/score', detail: 'must be >= 1' })],
    });
    // Nothing of the transition: no write, no task change, no timers, no outbound events.
    expect(d.case.caseFile).toEqual(c.caseFile);
    expect(fragmentByKey(d.case, 'survey').activeStates).toEqual(['asking']);
    expect(fragmentByKey(d.case, 'survey').pendingTimers).toEqual({});
    expect(openTask(d.case, 'asking').id).toBe(task.id);
    expect(d.effects).toEqual([]);
    // Firing it again is stale: it cannot loop.
    const again = h.ok(d.case, { type: 'timer.fire', timerId: timerId! }, TIMER);
    expect(again.case).toBe(d.case);
  });

  it('an SLA breach still breaches; only the escalation that would break the case file is skipped', () => {
    const { h, c } = surveyCase();
    const goal = c.goals.find((g) => g.key === 'replied')!;
    h.advance(4 * 3_600_000);
    const d = h.ok(c, { type: 'timer.fire', timerId: goal.deadlineTimerId! }, TIMER);
    expect(d.case.goals.find((g) => g.key === 'replied')!.sla).toBe('breached');
    expect(d.case.fragments.map((f) => f.definition)).toEqual(['survey@1']);
    expect(d.case.caseFile).toEqual(c.caseFile);
    expect(d.case.priority).toBe('urgent');
    expect(journalTypes(d)).toEqual(['goal.breached', 'sla.escalation_skipped', 'case.priority_changed']);
    expect(d.journal[1]!.data).toMatchObject({ action: 'startFragment', definition: 'callback@1', why: expect.stringContaining('/survey/score must be number') });
    expect(effectsOf(d.effects, 'task.upsert')).toEqual([]);
  });
});

describe('task forms are draft 2020-12 too', () => {
  const PICK_V1: FragmentDefinition = {
    key: 'pick',
    version: 1,
    title: 'Pick',
    machine: {
      id: 'pick',
      initial: 'picking',
      states: {
        picking: {
          tags: ['task'],
          meta: {
            task: {
              title: 'Pick two',
              form: {
                type: 'object',
                properties: { pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }], items: false } },
                dependentRequired: { pair: ['why'] },
              },
            },
          },
          on: { COMPLETE: 'done' },
        },
        done: { type: 'final' },
      },
    },
  };

  it('prefixItems and dependentRequired in a form are enforced on completion', () => {
    const h = createHarness({ template: { ...TEMPLATE, defaultFragments: ['pick@1'], goals: [] }, definitions: [PICK_V1] });
    const c = h.open();
    const task = openTask(c, 'picking');
    const wrongTuple = h.rejects(c, { type: 'task.complete', taskId: task.id, output: { pair: [1, 'a'], why: 'x' } }, 'INVALID_TASK_OUTPUT');
    expect(wrongTuple.details?.['errors']).toEqual(expect.arrayContaining([expect.objectContaining({ pointer: '/pair/0' })]));
    h.rejects(c, { type: 'task.complete', taskId: task.id, output: { pair: ['a', 1, 'extra'], why: 'x' } }, 'INVALID_TASK_OUTPUT');
    h.rejects(c, { type: 'task.complete', taskId: task.id, output: { pair: ['a', 1] } }, 'INVALID_TASK_OUTPUT');
    h.ok(c, { type: 'task.complete', taskId: task.id, output: { pair: ['a', 1], why: 'x' } });
  });

  it('a form with an unknown keyword (a typo) is refused, as the loader refuses it in a case-file schema', () => {
    const withTypo = structuredClone(PICK_V1);
    (withTypo.machine.states['picking']!.meta!.task!.form as Record<string, unknown>)['properties'] = { why: { type: 'string', maxLenght: 10 } };
    const result = validateFragmentDefinition(withTypo);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problems).toEqual([
        { path: 'machine.states.picking.meta.task.form', message: expect.stringMatching(/draft 2020-12.*maxLenght/) },
      ]);
    }
  });

  it('a definition stored before the strict check (a form with a UI keyword) still runs: its form is enforced, the keyword ignored', () => {
    const legacy = structuredClone(PICK_V1);
    const form = legacy.machine.states['picking']!.meta!.task!.form as Record<string, unknown>;
    form['properties'] = { why: { type: 'string', maxLength: 5, 'x-widget': 'textarea' } };
    form['$schema'] = 'http://json-schema.org/draft-07/schema#';
    expect(validateFragmentDefinition(legacy).ok).toBe(false);
    // The engine compiles stored copies without authoring them again.
    const h = createHarness({ template: { ...TEMPLATE, defaultFragments: ['pick@1'], goals: [] }, definitions: [legacy] });
    const c = h.open();
    const task = openTask(c, 'picking');
    h.rejects(c, { type: 'task.complete', taskId: task.id, output: { why: 'far too long' } }, 'INVALID_TASK_OUTPUT');
    h.ok(c, { type: 'task.complete', taskId: task.id, output: { why: 'ok' } });
  });

  it('a form declaring another dialect is refused', () => {
    const draft07 = structuredClone(PICK_V1);
    (draft07.machine.states['picking']!.meta!.task!.form as Record<string, unknown>)['$schema'] = 'http://json-schema.org/draft-07/schema#';
    expect(validateFragmentDefinition(draft07).ok).toBe(false);
  });
});
