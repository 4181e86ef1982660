/**
 * The sandboxed expression language of fragments: CEL (@marcbachmann/cel-js).
 *
 * CEL is not Turing-complete: no loops, no recursion, no user functions. An expression sees
 * only the scope variables below, as read-only data; it cannot reach JavaScript objects,
 * prototypes or globals (an unknown variable fails the type check, and field access on data
 * reads own keys only). On top of that this module refuses, at compile time, what could
 * still make one evaluation expensive:
 * - `matches()`: JavaScript regular expressions can backtrack catastrophically (ReDoS);
 * - `cel.bind()`: nested binds double a string or list per level;
 * - a comprehension (`all`, `exists`, `exists_one`, `map`, `filter`) inside another one:
 *   quadratic work over a case-file list;
 * - sources over 2,000 characters or 300 syntax nodes;
 * - `join()` with a separator other than a string literal of at most 10 characters (the
 *   separator is repeated once per element, natively, where no budget can see it).
 *
 * What cannot be decided from the source is bounded at run time (expression-meter.ts): every
 * evaluation has a work budget of EXPRESSION_LIMITS.budget units, charged as the expression reads
 * case data, so `caseFile.l.all(x, x in caseFile.l)` over a long list stops with
 * ExpressionLimitError instead of pinning the event loop, and a `map` that copies lists stops
 * before it fills the heap. A result stored in the case file is capped too (maxResultNodes).
 *
 * Numbers: a JSON number in the scope is a CEL `double`, always. CEL compares doubles with
 * integer literals numerically, so `caseFile.amount > 100` works; arithmetic mixing the two
 * does not (`caseFile.amount + 1` is a runtime error) — write `caseFile.amount + 1.0`.
 * Converting whole numbers to CEL ints instead would make `caseFile.amount * 1.5` work for
 * 150.5 and fail for 150, which is worse than one consistent rule.
 */
import { Environment, type ASTNode } from '@marcbachmann/cel-js';
import { DefinitionError } from './definition-error.js';
import { createMeter, ExpressionLimitError, type Meter } from './expression-meter.js';
import type { Scope } from './runtime.js';

export const EXPRESSION_LIMITS = {
  maxSourceLength: 2_000,
  maxAstNodes: 300,
  maxDepth: 32,
  maxListElements: 100,
  maxMapEntries: 100,
  /** Compiled expressions kept in memory (least recently compiled are dropped first). */
  maxCacheEntries: 5_000,
  /** Nesting of a JSON value an expression may return. */
  maxResultDepth: 64,
  /** Values (scalars, list elements, map entries) and string characters/16 in a stored result. */
  maxResultNodes: 100_000,
  /**
   * Work units one evaluation may spend (see expression-meter.ts): about 10-30 ms of CPU when
   * spent in full, so no evaluation holds the event loop much longer than that.
   */
  budget: 500_000,
  /** Longest separator `join()` may repeat. */
  maxJoinSeparator: 10,
} as const;

export { ExpressionLimitError };

/** The variables every expression can read; all are CEL maps. */
export const SCOPE_VARIABLES = ['caseFile', 'milestones', 'case', 'event', 'fragments', 'customer'] as const;

const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);
const FORBIDDEN_FUNCTIONS: Record<string, string> = {
  matches: 'regular expressions are not allowed (they can take exponential time); use contains(), startsWith() or endsWith()',
  bind: 'cel.bind() is not allowed (nested binds grow values exponentially); repeat the sub-expression instead',
};
const FORBIDDEN_FIELDS = new Set(['__proto__', 'constructor', 'prototype']);

/** A parsed and type-checked expression, ready to evaluate many times. */
export interface CompiledExpression {
  readonly source: string;
  /** The CEL type the checker inferred (`bool`, `int`, `dyn`, ...). */
  readonly type: string;
  /** The expression reads the `event` variable (its value depends on the event being sent). */
  readonly readsEvent: boolean;
  /** Syntax nodes: what one read of a list or string is multiplied by in the work budget. */
  readonly weight: number;
  /** @internal the source, clipped, for messages. */
  readonly describe: () => string;
  /** @internal evaluates against a complete CEL context; may throw. */
  readonly run: (context: Record<string, unknown>) => unknown;
}

/** `limit`: the evaluation was stopped by its budget (not an ordinary CEL error). */
export type EvaluationResult = { ok: true; value: unknown } | { ok: false; error: string; limit?: ExpressionLimitError };

// The environment is immutable configuration and the cache holds pure values keyed by source,
// so sharing them across the process is safe (and what makes compile-once work).
const environment = SCOPE_VARIABLES.reduce(
  (env, name) => env.registerVariable(name, 'map'),
  new Environment({
    // Case-file values are JSON: allow `{'n': 1, 'tags': ['a']}` without dyn() wrappers.
    homogeneousAggregateLiterals: false,
    limits: {
      maxAstNodes: EXPRESSION_LIMITS.maxAstNodes,
      maxDepth: EXPRESSION_LIMITS.maxDepth,
      maxListElements: EXPRESSION_LIMITS.maxListElements,
      maxMapEntries: EXPRESSION_LIMITS.maxMapEntries,
      maxCallArguments: 8,
    },
  }),
);
const cache = new Map<string, CompiledExpression>();

/**
 * Parses and type-checks `source` once (cached by source text).
 * With `expect: 'bool'` the expression must be a condition (type `bool` or `dyn`).
 * Throws DefinitionError INVALID_EXPRESSION with a message that says what to change; never
 * throws anything else.
 */
export function compileExpression(source: string, expect?: 'bool'): CompiledExpression {
  if (typeof source !== 'string') {
    throw invalid('An expression must be a string of CEL, e.g. "caseFile.amount > 100".');
  }
  let compiled = cache.get(source);
  if (compiled === undefined) {
    compiled = compileUncached(source);
    if (cache.size >= EXPRESSION_LIMITS.maxCacheEntries) {
      const oldest = cache.keys().next();
      if (oldest.done !== true) cache.delete(oldest.value);
    }
    cache.set(source, compiled);
  }
  if (expect === 'bool' && compiled.type !== 'bool' && compiled.type !== 'dyn') {
    throw invalid(`A condition must be true or false, but "${clip(source)}" is of type ${compiled.type}. Compare it, e.g. "... == 'value'".`);
  }
  return compiled;
}

function compileUncached(source: string): CompiledExpression {
  if (source.trim() === '') {
    throw invalid('The expression is empty. Write a CEL condition, e.g. "caseFile.amount > 100".');
  }
  if (source.length > EXPRESSION_LIMITS.maxSourceLength) {
    throw invalid(`The expression has ${source.length} characters; the limit is ${EXPRESSION_LIMITS.maxSourceLength}. Split the logic or move data into the case file.`);
  }
  let parsed: ReturnType<typeof environment.parse>;
  try {
    parsed = environment.parse(source);
  } catch (error) {
    throw invalid(`The expression "${clip(source)}" does not parse: ${celMessage(error)}.`);
  }
  const scan = scanAst(parsed.ast);
  if (scan.problem !== undefined) {
    throw invalid(`The expression "${clip(source)}" is not allowed: ${scan.problem}.`);
  }
  let checked: ReturnType<typeof parsed.check>;
  try {
    checked = parsed.check();
  } catch (error) {
    throw invalid(`The expression "${clip(source)}" does not type-check: ${celMessage(error)}.`);
  }
  if (!checked.valid) {
    throw invalid(
      `The expression "${clip(source)}" does not type-check: ${celMessage(checked.error)}. ` +
        `Expressions can read ${SCOPE_VARIABLES.join(', ')}.`,
    );
  }
  return Object.freeze({
    source,
    type: checked.type ?? 'dyn',
    readsEvent: scan.readsEvent,
    weight: Math.max(1, scan.weight),
    describe: () => clip(source),
    run: (context: Record<string, unknown>) => parsed(context) as unknown,
  });
}

interface AstScan {
  problem?: string;
  readsEvent: boolean;
  weight: number;
}


/** Walks the AST iteratively (its size is capped by the parser limits). */
function scanAst(root: ASTNode): AstScan {
  const result: AstScan = { readsEvent: false, weight: 0 };
  const stack: { node: unknown; inComprehension: boolean }[] = [{ node: root, inComprehension: false }];
  while (stack.length > 0) {
    const { node, inComprehension } = stack.pop()!;
    if (!isAstNode(node)) continue;
    let childInComprehension = inComprehension;
    if (node.op === 'id' && node.args === 'event') result.readsEvent = true;
    result.weight += 1;
    if (node.op === 'call' || node.op === 'rcall') {
      const name = node.args[0];
      const forbidden = Object.hasOwn(FORBIDDEN_FUNCTIONS, name) ? FORBIDDEN_FUNCTIONS[name] : undefined;
      if (forbidden !== undefined) return { ...result, problem: forbidden };
      if (name === 'join' && !isShortLiteral(node.op === 'rcall' ? node.args[2][0] : node.args[1][1])) {
        return { ...result, problem: `join() takes its separator as a string literal of at most ${EXPRESSION_LIMITS.maxJoinSeparator} characters, e.g. join(", ")` };
      }
      if (node.op === 'rcall' && COMPREHENSIONS.has(name)) {
        if (inComprehension) {
          return { ...result, problem: `${name}() inside another list macro does quadratic work; use one level of all/exists/map/filter` };
        }
        childInComprehension = true;
      }
    }
    if ((node.op === '.' || node.op === '.?') && FORBIDDEN_FIELDS.has(node.args[1])) {
      return { ...result, problem: `the field name "${node.args[1]}" is reserved` };
    }
    if ((node.op === '[]' || node.op === '[?]') && isAstNode(node.args[1]) && node.args[1].op === 'value' && FORBIDDEN_FIELDS.has(String(node.args[1].args))) {
      return { ...result, problem: `the key "${String(node.args[1].args)}" is reserved` };
    }
    const args: unknown = node.args;
    for (const child of flatten(args)) stack.push({ node: child, inComprehension: childInComprehension });
  }
  return result;
}

/** Absent (join() without a separator) or a short string literal. */
function isShortLiteral(node: unknown): boolean {
  if (node === undefined) return true;
  return isAstNode(node) && node.op === 'value' && typeof node.args === 'string' && node.args.length <= EXPRESSION_LIMITS.maxJoinSeparator;
}

function flatten(value: unknown): unknown[] {
  if (!Array.isArray(value)) return [value];
  const out: unknown[] = [];
  for (const item of value) {
    if (Array.isArray(item)) out.push(...flatten(item));
    else out.push(item);
  }
  return out;
}

function isAstNode(value: unknown): value is ASTNode {
  return typeof value === 'object' && value !== null && 'op' in value && 'args' in value;
}

const EMPTY_EVENT = Object.freeze({ type: '', data: Object.freeze({}) });
const EMPTY = Object.freeze({});

/** `type` and `data`, plus whatever else the event carries (intake events: kind, source, sentiment...), each metered. */
function eventContext(event: NonNullable<Scope['event']>, meter: Meter): Record<string, unknown> {
  const context: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) if (key !== 'type' && key !== 'data' && value !== undefined) context[key] = meter.wrap(value);
  context.type = event.type;
  context.data = meter.wrap(event.data ?? EMPTY);
  return context;
}

function celContext(scope: Scope, meter: Meter): Record<string, unknown> {
  return {
    caseFile: meter.wrap(scope.caseFile ?? EMPTY),
    milestones: meter.wrap(scope.milestones ?? EMPTY),
    case: meter.wrap(scope.case ?? EMPTY),
    event: scope.event === undefined ? EMPTY_EVENT : eventContext(scope.event, meter),
    fragments: meter.wrap(scope.fragments ?? EMPTY),
    customer: meter.wrap(scope.customer ?? EMPTY),
  };
}

/**
 * Evaluates against `scope` within the work budget; never throws. The value is raw CEL (ints
 * are BigInt; maps may be read-only proxies of case data): see toJsonValue. A spent budget is
 * `{ ok: false, limit }`.
 */
export function evaluateExpression(compiled: CompiledExpression, scope: Scope): EvaluationResult {
  const meter = createMeter(EXPRESSION_LIMITS.budget, compiled.weight, compiled.describe);
  try {
    const value = meter.run(() => compiled.run(celContext(scope, meter)));
    // CEL's && and || absorb errors (`error || true` is true): a spent budget fails all the same.
    if (meter.spent !== undefined) return { ok: false, error: meter.spent.message, limit: meter.spent };
    return { ok: true, value };
  } catch (error) {
    if (error instanceof ExpressionLimitError) return { ok: false, error: error.message, limit: error };
    return { ok: false, error: celMessage(error) };
  }
}

/**
 * True only when the expression evaluates to `true`. Fails closed: a missing field
 * (`caseFile.refund` when there is none; use `has(caseFile.refund)`), a type mismatch or a
 * non-boolean result is `false`. Never throws.
 */
export function evaluateCondition(compiled: CompiledExpression, scope: Scope): boolean {
  const result = evaluateExpression(compiled, scope);
  return result.ok && result.value === true;
}

/**
 * Like evaluateCondition, but a spent budget throws ExpressionLimitError (a 422 naming the
 * expression) instead of reading as false: for guards of a command, where "not taken" would
 * hide why.
 */
export function evaluateConditionOrThrow(compiled: CompiledExpression, scope: Scope): boolean {
  const result = evaluateExpression(compiled, scope);
  if (!result.ok && result.limit !== undefined) throw result.limit;
  return result.ok && result.value === true;
}

/**
 * Converts a CEL result into plain JSON for the case file: BigInt -> number (when safe),
 * timestamps -> ISO strings, maps -> objects. Bytes, durations, types, non-finite numbers and
 * results over EXPRESSION_LIMITS.maxResultNodes (a list of many copies of one list is cheap
 * for CEL to build and large to copy) are refused with `{ ok: false }`.
 */
export function toJsonValue(value: unknown): EvaluationResult {
  return convert(value, 0, { left: EXPRESSION_LIMITS.maxResultNodes });
}

function convert(value: unknown, depth: number, nodes: { left: number }): EvaluationResult {
  if (depth > EXPRESSION_LIMITS.maxResultDepth) return { ok: false, error: 'the result is nested too deeply' };
  nodes.left -= typeof value === 'string' ? 1 + (value.length >> 4) : 1;
  if (nodes.left < 0) {
    const error = `the result is larger than ${EXPRESSION_LIMITS.maxResultNodes} values`;
    return { ok: false, error, limit: new ExpressionLimitError(`The expression's ${error}; store less, or a summary`) };
  }
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return { ok: true, value };
  if (typeof value === 'number') {
    return Number.isFinite(value) ? { ok: true, value } : { ok: false, error: `${value} is not a JSON number` };
  }
  if (typeof value === 'bigint') {
    const n = Number(value);
    return Number.isSafeInteger(n) ? { ok: true, value: n } : { ok: false, error: `${value} is too large for a JSON number` };
  }
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? { ok: false, error: 'invalid timestamp' } : { ok: true, value: value.toISOString() };
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value) {
      const converted = convert(item, depth + 1, nodes);
      if (!converted.ok) return converted;
      out.push(converted.value);
    }
    return { ok: true, value: out };
  }
  const entries: Iterable<[unknown, unknown]> | undefined =
    value instanceof Map ? value.entries() : isPlainObject(value) ? Object.entries(value) : undefined;
  if (entries === undefined) {
    const name = typeof value === 'object' && value !== null ? value.constructor?.name ?? 'object' : typeof value;
    return { ok: false, error: `a value of type ${name} cannot be stored as JSON` };
  }
  const out: [string, unknown][] = [];
  for (const [key, item] of entries) {
    if (typeof key !== 'string') return { ok: false, error: 'map keys must be strings to be stored as JSON' };
    const converted = convert(item, depth + 1, nodes);
    if (!converted.ok) return converted;
    out.push([key, converted.value]);
  }
  // Object.fromEntries defines own data properties, so a "__proto__" key stays data.
  return { ok: true, value: Object.fromEntries(out) };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function invalid(message: string): DefinitionError {
  return new DefinitionError('INVALID_EXPRESSION', message);
}

/** cel-js messages carry a multi-line source excerpt; keep the first line. */
function celMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? message).replace(/\.$/, '');
}

function clip(source: string): string {
  return source.length > 80 ? `${source.slice(0, 77)}...` : source;
}
