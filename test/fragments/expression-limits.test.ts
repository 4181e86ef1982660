/**
 * The CEL work budget (expression-meter.ts): hostile expressions stop with a limit error, quickly,
 * while ordinary ones read metered case data exactly as they read plain data.
 */
import { describe, expect, it } from 'vitest';
import { compileExpression, evaluateExpression, EXPRESSION_LIMITS, toJsonValue } from '../../src/fragments/expressions.js';
import type { Scope } from '../../src/fragments/runtime.js';

const scope = (caseFile: Record<string, unknown>, event?: Scope['event']): Scope => ({
  caseFile,
  milestones: { triaged: '2026-01-01T00:00:00Z' },
  case: { id: 'c-1', status: 'open', priority: 'high' },
  ...(event ? { event } : {}),
  fragments: { refund: { status: 'active', states: ['review'] } },
});
const evaluate = (source: string, caseFile: Record<string, unknown>) => evaluateExpression(compileExpression(source), scope(caseFile));
const LONG = Array.from({ length: 100_000 }, (_, i) => i);

describe('stopped by the budget', () => {
  it.each([
    ['quadratic membership', 'caseFile.l.all(x, x in caseFile.l)', { l: LONG.slice(0, 20_000) }],
    ['a map that concatenates the list per element', 'caseFile.l.map(x, caseFile.l + caseFile.l)', { l: LONG.slice(0, 20_000) }],
    ['a map of string copies', "caseFile.l.map(x, caseFile.s + caseFile.s + '')", { l: LONG.slice(0, 20_000), s: 'x'.repeat(100_000) }],
    ['membership over map keys', 'caseFile.m.all(k, k in caseFile.m && caseFile.m[k] >= 0.0)', { m: Object.fromEntries(LONG.map((i) => [`k${i}`, i])) }],
    ['deep equality inside a macro', 'caseFile.l.all(x, caseFile.a == caseFile.b)', { l: LONG.slice(0, 1_000), a: { v: LONG }, b: { v: LONG } }],
    ['one scan of a very long list', 'caseFile.l.exists(x, x < 0.0)', { l: LONG }],
  ])('%s', (_name, source, caseFile) => {
    const started = performance.now();
    const result = evaluate(source, caseFile);
    const elapsed = performance.now() - started;
    expect(result.ok).toBe(false);
    expect(!result.ok && result.limit?.code).toBe('EXPRESSION_LIMIT');
    expect(!result.ok && result.error).toContain(source.slice(0, 40));
    // Generous for a loaded machine (measured 1-150 ms); before the budget: seconds to minutes, or out of memory.
    expect(elapsed).toBeLessThan(2_000);
  });

  it('stays spent, even where CEL absorbs the error (error || true)', () => {
    const result = evaluate('caseFile.l.all(x, x in caseFile.l || true)', { l: LONG.slice(0, 30_000) });
    expect(!result.ok && result.limit).toBeTruthy();
  });
});

describe('within the budget, metered data reads as plain data', () => {
  const caseFile = {
    amount: 150,
    status: 'open',
    items: [{ ok: false, tags: ['a'] }, { ok: true, tags: [] }],
    refund: { amount: 5, reason: 'late' },
    seen: { x: true, y: true },
    l: LONG.slice(0, 10_000),
  };
  it.each([
    ['caseFile.amount > 100.0 && caseFile.status == "open"', true],
    ['caseFile.items.exists(i, i.ok) && size(caseFile.items[0].tags) == 1', true],
    ['has(caseFile.refund) && !has(caseFile.missing) && caseFile.refund.reason.startsWith("la")', true],
    ["'x' in caseFile.seen && !('z' in caseFile.seen) && size(caseFile.seen) == 2", true],
    ['caseFile.seen.all(k, k in caseFile.seen)', true],
    ['caseFile.refund == {"amount": 5.0, "reason": "late"}', true],
    ["'triaged' in milestones && case.priority == 'high' && 'review' in fragments.refund.states", true],
    ['caseFile.l.exists(x, x == 9999.0)', true],
    ['caseFile.items.map(i, i.ok)', [false, true]],
  ])('%s', (source, expected) => {
    const result = evaluate(source, caseFile);
    expect(result.ok, JSON.stringify(result)).toBe(true);
    expect(toJsonValue(result.ok ? result.value : undefined)).toEqual({ ok: true, value: expected });
  });

  it('a result built from metered maps converts to plain JSON', () => {
    const result = evaluate('caseFile.items.map(i, {"item": i, "refund": caseFile.refund})', caseFile);
    expect(result.ok && toJsonValue(result.value)).toEqual({
      ok: true,
      value: [
        { item: { ok: false, tags: ['a'] }, refund: { amount: 5, reason: 'late' } },
        { item: { ok: true, tags: [] }, refund: { amount: 5, reason: 'late' } },
      ],
    });
  });
});

describe('refused or capped', () => {
  it('join() with a computed or long separator is refused when written', () => {
    expect(() => compileExpression('caseFile.l.join(caseFile.sep)')).toThrow(/join\(\) takes its separator as a string literal/);
    expect(() => compileExpression(`caseFile.l.join('${'-'.repeat(11)}')`)).toThrow(/at most 10 characters/);
    expect(compileExpression("caseFile.l.join(', ')").type).toBeDefined();
  });

  it('a result of many copies of one list is refused when stored', () => {
    const result = evaluate('caseFile.l.map(x, [x, x, x, x, x, x, x, x, x, x])', { l: LONG.slice(0, 20_000) });
    expect(result.ok).toBe(true);
    const json = toJsonValue(result.ok ? result.value : undefined);
    expect(json.ok).toBe(false);
    expect(!json.ok && json.error).toContain(String(EXPRESSION_LIMITS.maxResultNodes));
  });
});
