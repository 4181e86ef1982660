import { describe, expect, test } from 'vitest';
import { compileFragment } from '../../src/fragments/runtime.js';
import { DefinitionError } from '../../src/fragments/definition-error.js';
import { validateFragmentDefinition } from '../../src/fragments/validate-definition.js';

/** A small valid definition; each test breaks one thing. */
function refund(): any {
  return {
    key: 'refund-approval',
    version: 1,
    title: 'Refund approval',
    machine: {
      id: 'refund',
      initial: 'review',
      states: {
        review: {
          tags: ['task'],
          meta: { task: { title: 'Review the refund', role: 'agent', due: 'PT4H', form: { type: 'object', properties: { ok: { type: 'boolean' } } } } },
          on: {
            COMPLETE: [
              { target: 'approved', guard: { type: 'expr', params: { expr: 'event.data.ok == true' } }, actions: { type: 'setMilestone', params: { key: 'refundApproved' } } },
              { target: 'rejected' },
            ],
          },
          after: { PT2H: { target: 'escalated', actions: [{ type: 'setPriority', params: { priority: 'high' } }] } },
        },
        escalated: { on: { COMPLETE: 'approved' } },
        approved: { type: 'final' },
        rejected: { type: 'final' },
      },
    },
  };
}

function problemsOf(def: unknown) {
  const result = validateFragmentDefinition(def);
  if (result.ok) throw new Error('expected the definition to be refused');
  return result.problems;
}

describe('a valid definition', () => {
  test('passes and is returned unchanged', () => {
    const def = refund();
    const result = validateFragmentDefinition(def);
    expect(result).toEqual({ ok: true, definition: def });
  });

  test('accepts nested and parallel states with all target syntaxes', () => {
    const def = refund();
    def.machine.states.escalated = {
      type: 'parallel',
      states: {
        legal: { initial: 'waiting', states: { waiting: { on: { CLEARED: 'cleared' } }, cleared: {} } },
        finance: { initial: 'waiting', states: { waiting: { on: { PAID: '#refund.approved', RECHECK: '.inner' }, initial: 'inner', states: { inner: {} } } } },
      },
    };
    expect(validateFragmentDefinition(def).ok).toBe(true);
  });
});

describe('targets', () => {
  test('a missing target names the path and the siblings', () => {
    const def = refund();
    def.machine.states.review.on.COMPLETE[0].target = 'aproved';
    const problems = problemsOf(def);
    expect(problems).toEqual([
      { path: 'machine.states.review.on.COMPLETE[0].target', message: expect.stringContaining('"aproved" does not exist') },
    ]);
    expect(problems[0]!.message).toContain('approved');
  });

  test('a shorthand target is checked too', () => {
    const def = refund();
    def.machine.states.escalated.on.COMPLETE = 'nowhere';
    expect(problemsOf(def)).toEqual([{ path: 'machine.states.escalated.on.COMPLETE', message: expect.stringContaining('"nowhere" does not exist') }]);
  });

  test('an #id target must use the machine id', () => {
    const def = refund();
    def.machine.states.escalated.on.COMPLETE = '#other.approved';
    expect(problemsOf(def)[0]!.path).toBe('machine.states.escalated.on.COMPLETE');
  });

  test('initial must exist', () => {
    const def = refund();
    def.machine.initial = 'start';
    expect(problemsOf(def)).toEqual([{ path: 'machine.initial', message: expect.stringContaining('review, escalated, approved, rejected') }]);
  });

  test('the root id is required', () => {
    const def = refund();
    delete def.machine.id;
    expect(problemsOf(def)).toContainEqual({ path: 'machine.id', message: 'is required.' });
  });
});

describe('registry references', () => {
  test('an unknown action is refused with the list of registered actions', () => {
    const def = refund();
    def.machine.states.review.entry = { type: 'sendEmail', params: { to: 'x' } };
    expect(problemsOf(def)).toEqual([{ path: 'machine.states.review.entry', message: expect.stringContaining('Unknown action "sendEmail"') }]);
  });

  test('an unknown guard is refused', () => {
    const def = refund();
    def.machine.states.review.on.COMPLETE[0].guard = 'isManager';
    expect(problemsOf(def)).toEqual([{ path: 'machine.states.review.on.COMPLETE[0].guard', message: expect.stringContaining('Unknown guard "isManager"') }]);
  });

  test('action params are checked against the registry schema', () => {
    const def = refund();
    def.machine.states.review.entry = [{ type: 'setPriority', params: { priority: 'asap' } }];
    expect(problemsOf(def)[0]).toMatchObject({ path: 'machine.states.review.entry[0]', message: expect.stringContaining('setPriority') });
  });

  test('assignCaseFile needs exactly one source and no prototype paths', () => {
    const def = refund();
    def.machine.states.review.entry = [
      { type: 'assignCaseFile', params: { path: 'a.b' } },
      { type: 'assignCaseFile', params: { path: '__proto__.polluted', value: true } },
    ];
    const problems = problemsOf(def);
    expect(problems.map((p) => p.path)).toEqual(['machine.states.review.entry[0]', 'machine.states.review.entry[1]']);
    expect(problems[0]!.message).toContain('exactly one of value, fromEvent or expr');
  });

  test('a bad expression in a guard is refused with its CEL error', () => {
    const def = refund();
    def.machine.states.review.on.COMPLETE[0].guard.params.expr = 'event.data.ok ==';
    expect(problemsOf(def)).toEqual([{ path: 'machine.states.review.on.COMPLETE[0].guard', message: expect.stringContaining('does not parse') }]);
  });

  test('an expression probing the runtime is refused', () => {
    const def = refund();
    def.machine.states.review.on.COMPLETE[0].guard.params.expr = "process.env.SECRET == 'x'";
    expect(problemsOf(def)[0]!.message).toContain('process');
  });
});

describe('refused XState features', () => {
  test('invoke is refused with a reason', () => {
    const def = refund();
    def.machine.states.review.invoke = { src: 'fetchCustomer' };
    expect(problemsOf(def)).toEqual([{ path: 'machine.states.review.invoke', message: expect.stringContaining('invoke is not allowed') }]);
  });

  test('a spawn action is refused', () => {
    const def = refund();
    def.machine.states.review.entry = { type: 'spawnChild', params: { src: 'x' } };
    expect(problemsOf(def)[0]!.message).toContain('cannot start actors');
  });

  test('reserved event types are refused', () => {
    const def = refund();
    def.machine.states.escalated.on['xstate.init'] = 'approved';
    expect(problemsOf(def)[0]!.path).toBe('machine.states.escalated.on.xstate.init');
  });

  test('wildcard events are refused', () => {
    const def = refund();
    def.machine.states.escalated.on['*'] = 'approved';
    expect(problemsOf(def)[0]).toMatchObject({ path: 'machine.states.escalated.on.*', message: expect.stringContaining('no wildcards') });
  });
});

describe('always loops', () => {
  test('unguarded always transitions forming a cycle are refused', () => {
    const def = refund();
    def.machine.states.a = { always: 'b' };
    def.machine.states.b = { always: { target: 'a' } };
    def.machine.states.escalated.on.LOOP = 'a';
    expect(problemsOf(def)).toEqual([{ path: 'machine.states.a.always', message: expect.stringContaining('a -> b -> a') }]);
  });

  test('an always to a child of a state with an unguarded always loops', () => {
    const def = refund();
    def.machine.states.escalated = { initial: 'x', always: '.x', states: { x: {} }, on: { COMPLETE: 'approved' } };
    expect(problemsOf(def)[0]!.message).toContain('escalated -> escalated');
  });

  test('a guarded always chain is accepted', () => {
    const def = refund();
    def.machine.states.a = { always: { target: 'b', guard: { type: 'expr', params: { expr: 'caseFile.x == 1' } } } };
    def.machine.states.b = { always: 'a' };
    expect(validateFragmentDefinition(def).ok).toBe(true);
  });
});

describe('delays', () => {
  test.each([
    ['0', 'positive'],
    ['soon', 'neither milliseconds'],
    ['P1M', 'months'],
    ['PTXH', 'not a valid ISO 8601'],
    ['-5', 'neither milliseconds'],
  ])('after key %s is refused', (key, message) => {
    const def = refund();
    def.machine.states.escalated.after = { [key]: 'approved' };
    expect(problemsOf(def)).toEqual([{ path: `machine.states.escalated.after.${key}`, message: expect.stringContaining(message) }]);
  });

  test('ms and ISO durations are accepted', () => {
    const def = refund();
    def.machine.states.escalated.after = { '5000': 'approved', P2D: 'rejected', 'PT0.5S': 'approved' };
    expect(validateFragmentDefinition(def).ok).toBe(true);
  });

  test('a bad task due is refused', () => {
    const def = refund();
    def.machine.states.review.meta.task.due = 'tomorrow';
    expect(problemsOf(def)[0]!.path).toBe('machine.states.review.meta.task.due');
  });
});

describe('tasks', () => {
  test('a state tagged task needs meta.task', () => {
    const def = refund();
    delete def.machine.states.review.meta;
    expect(problemsOf(def)).toEqual([{ path: 'machine.states.review.meta.task', message: expect.stringContaining('needs meta.task') }]);
  });

  test('meta.task needs a title', () => {
    const def = refund();
    delete def.machine.states.review.meta.task.title;
    expect(problemsOf(def)).toContainEqual({ path: 'machine.states.review.meta.task.title', message: 'is required.' });
  });

  test('the form must be a valid JSON Schema', () => {
    const def = refund();
    def.machine.states.review.meta.task.form = { type: 'objekt' };
    expect(problemsOf(def)[0]!.path).toBe('machine.states.review.meta.task.form');
  });

  test('the task completion event must be handled', () => {
    const def = refund();
    def.machine.states.review.meta.task.event = 'DONE';
    expect(problemsOf(def)[0]).toMatchObject({ path: 'machine.states.review.on', message: expect.stringContaining('"DONE"') });
  });
});

describe('limits and hostile input', () => {
  test('10,000 states are refused quickly with a clear message', () => {
    const def = refund();
    def.machine.states = {};
    for (let i = 0; i < 10_000; i++) def.machine.states[`s${i}`] = { on: { NEXT: `s${i + 1}` } };
    const started = performance.now();
    const problems = problemsOf(def);
    // Refused by the first, structural pass (about a millisecond when quiet). The bound is
    // loose for a loaded shared machine; the passes behind it would take seconds here.
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(problems).toEqual([{ path: 'machine.states', message: expect.stringContaining('more than 200 states') }]);
  });

  test('state nesting deeper than 8 is refused', () => {
    const def = refund();
    let states: any = def.machine.states;
    for (let i = 0; i < 10; i++) {
      states.deep = { initial: 'deep', states: {} };
      states = states.deep.states;
    }
    states.deep = {};
    expect(problemsOf(def)[0]!.message).toContain('nested deeper than 8');
  });

  test('a huge payload is refused by size', () => {
    const def = refund();
    def.machine.states.review.meta.notes = 'x'.repeat(300 * 1024);
    expect(problemsOf(def)).toEqual([{ path: '', message: expect.stringContaining('limit is 256 KB') }]);
  });

  test('deep JSON nesting is refused without a stack overflow', () => {
    const def = refund();
    let node: any = {};
    def.machine.states.review.meta.blob = node;
    for (let i = 0; i < 100_000; i++) {
      node.a = {};
      node = node.a;
    }
    expect(problemsOf(def)[0]!.message).toContain('nested deeper than 64');
  });

  test('non-JSON values are refused', () => {
    const def = refund();
    def.machine.states.review.meta.when = new Date();
    expect(problemsOf(def)[0]!.message).toContain('Only JSON values');
  });

  test('too many events on one state are refused', () => {
    const def = refund();
    for (let i = 0; i < 51; i++) def.machine.states.escalated.on[`E${i}`] = 'approved';
    expect(problemsOf(def)[0]!.path).toBe('machine.states.escalated.on');
  });

  test('unknown keys are refused and prototype-like state keys are not valid names', () => {
    const def = JSON.parse(JSON.stringify(refund()).replace('"escalated":', '"__proto__":').replaceAll('"escalated"', '"__proto__"'));
    def.extra = 1;
    const problems = problemsOf(def);
    expect(problems.map((p) => p.path)).toEqual(expect.arrayContaining(['extra', 'machine.states.__proto__']));
  });

  test('not an object', () => {
    expect(problemsOf('{"key":1}')[0]!.message).toContain('must be a JSON object');
    expect(problemsOf(null)[0]!.path).toBe('');
  });
});

describe('compileFragment', () => {
  test('refuses an invalid definition with INVALID_DEFINITION and every problem', () => {
    const def = refund();
    def.machine.states.review.entry = 'sendEmail';
    def.machine.states.escalated.on.COMPLETE = 'nowhere';
    let error: unknown;
    try {
      compileFragment(def);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DefinitionError);
    expect((error as DefinitionError).code).toBe('INVALID_DEFINITION');
    expect((error as DefinitionError).problems).toHaveLength(2);
    expect((error as DefinitionError).message).toContain('refund-approval@1');
  });
});
