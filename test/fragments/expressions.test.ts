import { describe, expect, test } from 'vitest';
import { DefinitionError } from '../../src/fragments/definition-error.js';
import { compileExpression, evaluateCondition, evaluateExpression, toJsonValue } from '../../src/fragments/expressions.js';
import type { Scope } from '../../src/fragments/runtime.js';

const scope = (over: Partial<Scope> = {}): Scope => ({
  caseFile: { amount: 150, verified: true, items: [{ ok: true }, { ok: false }] },
  milestones: { approved: '2024-05-01T10:00:00Z' },
  case: { id: 'c1', status: 'open', priority: 'normal' },
  ...over,
});

function compileError(source: string): DefinitionError {
  try {
    compileExpression(source);
  } catch (error) {
    return error as DefinitionError;
  }
  throw new Error(`expected "${source}" to be refused`);
}

describe('conditions over the case', () => {
  test.each([
    ['caseFile.amount > 100', true],
    ['caseFile.amount > 200', false],
    ['caseFile.amount == 150', true],
    ['caseFile.amount >= 150.0', true],
    ['caseFile.verified == true', true],
    ['has(caseFile.refund)', false],
    ['has(caseFile.amount)', true],
    ["'approved' in milestones", true],
    ["'rejected' in milestones", false],
    ["case.status == 'open' && case.priority != 'urgent'", true],
    ['caseFile.items.exists(i, i.ok)', true],
    ['caseFile.items.all(i, i.ok)', false],
    ['size(caseFile.items) == 2', true],
  ])('%s is %s', (source, expected) => {
    expect(evaluateCondition(compileExpression(source, 'bool'), scope())).toBe(expected);
  });

  test('reads the event being processed', () => {
    const compiled = compileExpression("event.type == 'APPROVE' && event.data.amount < 500");
    expect(compiled.readsEvent).toBe(true);
    expect(evaluateCondition(compiled, scope({ event: { type: 'APPROVE', data: { amount: 20 } } }))).toBe(true);
    expect(evaluateCondition(compiled, scope({ event: { type: 'REJECT', data: { amount: 20 } } }))).toBe(false);
  });

  test('reads fragment states for goal conditions', () => {
    const compiled = compileExpression("fragments.refund.status == 'done'");
    expect(evaluateCondition(compiled, scope({ fragments: { refund: { status: 'done', states: ['paid'] } } }))).toBe(true);
    expect(evaluateCondition(compiled, scope({ fragments: {} }))).toBe(false);
  });

  test('a missing field fails closed instead of throwing', () => {
    const compiled = compileExpression('caseFile.refund.amount > 10');
    expect(() => evaluateCondition(compiled, scope())).not.toThrow();
    expect(evaluateCondition(compiled, scope())).toBe(false);
    expect(evaluateExpression(compiled, scope())).toMatchObject({ ok: false, error: expect.stringContaining('refund') });
  });

  test('a non-boolean result is not true', () => {
    expect(evaluateCondition(compileExpression('caseFile.amount'), scope())).toBe(false);
  });

  test('a condition must be typed bool or dyn', () => {
    expect(() => compileExpression('1 + 2', 'bool')).toThrow(/must be true or false/);
  });

  test('JSON numbers are doubles: mixing with an int literal in arithmetic fails, a double literal works', () => {
    expect(evaluateExpression(compileExpression('caseFile.amount + 1'), scope()).ok).toBe(false);
    expect(evaluateExpression(compileExpression('caseFile.amount + 1.0'), scope())).toEqual({ ok: true, value: 151 });
  });
});

describe('compile once', () => {
  test('the same source returns the cached compiled expression', () => {
    expect(compileExpression('caseFile.amount > 7')).toBe(compileExpression('caseFile.amount > 7'));
  });

  test('syntax errors are INVALID_EXPRESSION with a readable message', () => {
    const error = compileError('caseFile.amount >');
    expect(error).toBeInstanceOf(DefinitionError);
    expect(error.code).toBe('INVALID_EXPRESSION');
    expect(error.status).toBe(422);
    expect(error.message).not.toContain('\n');
  });

  test('sources over 2,000 characters are refused before parsing', () => {
    expect(compileError(`caseFile.a == '${'x'.repeat(2_000)}'`).message).toMatch(/limit is 2000/);
  });

  test('expressions over the syntax-node limit are refused', () => {
    expect(compileError(Array.from({ length: 200 }, (_, i) => `caseFile.a${i} == 1`).join(' || ')).code).toBe('INVALID_EXPRESSION');
  });

  test.each([
    ["caseFile.name.matches('(a+)+$')", /regular expressions/],
    ['cel.bind(x, caseFile.s + caseFile.s, x + x) == ""', /bind/],
    ['caseFile.items.all(i, caseFile.items.exists(j, j == i))', /quadratic/],
  ])('expensive construct %s is refused', (source, message) => {
    const error = compileError(source);
    expect(error.code).toBe('INVALID_EXPRESSION');
    expect(error.message).toMatch(message);
  });
});

describe('sandbox probes', () => {
  test.each([
    'caseFile.constructor',
    "caseFile['__proto__']",
    'caseFile.__proto__',
    "caseFile['constructor']",
    'caseFile.prototype',
    'process.env',
    'globalThis',
    "require('fs')",
    'this',
    'Object.keys(caseFile)',
    'import("fs")',
  ])('%s is refused with INVALID_EXPRESSION', (source) => {
    const error = compileError(source);
    expect(error).toBeInstanceOf(DefinitionError);
    expect(error.code).toBe('INVALID_EXPRESSION');
  });

  test('computed prototype keys evaluate to nothing and never throw', () => {
    const compiled = compileExpression("caseFile[caseFile.key] == 'x'");
    for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const result = evaluateExpression(compiled, scope({ caseFile: { key } }));
      expect(result.ok).toBe(false);
    }
    expect(evaluateCondition(compiled, scope({ caseFile: { key: 'constructor' } }))).toBe(false);
  });

  test("a JSON '__proto__' key is plain data, not the prototype", () => {
    const caseFile = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    const compiled = compileExpression('has(caseFile.other)');
    expect(evaluateCondition(compiled, scope({ caseFile }))).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('results as JSON', () => {
  test('ints become numbers, maps become objects', () => {
    const value = evaluateExpression(compileExpression("{'n': 1 + 2, 'l': [1, 2]}"), scope());
    expect(value.ok && toJsonValue(value.value)).toEqual({ ok: true, value: { n: 3, l: [1, 2] } });
  });

  test('bytes are refused', () => {
    const value = evaluateExpression(compileExpression('b"abc"'), scope());
    expect(value.ok && toJsonValue(value.value).ok).toBe(false);
  });
});
