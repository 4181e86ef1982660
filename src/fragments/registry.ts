/**
 * The fixed registry of safe built-in guards and actions that fragment definitions reference
 * by name (`guard: { type: 'expr', params: { expr: "caseFile.amount > 100" } }`).
 *
 * Guards are pure functions of the case Scope. Actions are never executed: the runtime turns
 * each one into a `FragmentAction` (data) that the engine applies to the case. The one
 * exception is `raiseEvent`, which XState itself handles inside the same transition.
 * Every entry has a JSON Schema for its params; `validateFragmentDefinition` checks them.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { ExpressionLimitError } from './expression-meter.js';
import { compileExpression, evaluateCondition, evaluateConditionOrThrow, evaluateExpression, toJsonValue } from './expressions.js';
import type { FragmentAction, Scope } from './runtime.js';
import { PRIORITIES } from '../cases/types.js';

/** What a guard sees while XState evaluates it. */
export interface GuardContext {
  /** The case, with `event` set to the event being processed. */
  scope: Scope;
  /**
   * The event is hypothetical (listing accepted events): conditions that read the event
   * cannot be decided and count as passing.
   */
  eventUnknown: boolean;
  /**
   * The result decides a command (an event being sent, an eventless transition), not only what
   * a view lists: an expression over its budget then throws ExpressionLimitError (a 422).
   */
  deciding: boolean;
}

/** What an action sees when the runtime turns it into data. */
export interface ActionContext {
  /** The case as it was before this step (every action and guard of one step sees the same). */
  scope: Scope;
  /** The XState event that caused the action. */
  event: { type: string; [key: string]: unknown };
}

type Params = Record<string, unknown>;

export interface GuardEntry {
  readonly description: string;
  /** JSON Schema of `params`. */
  readonly params: Record<string, unknown>;
  /** Checks beyond the schema; returns a message that says the fix, or undefined. */
  readonly check?: (params: Params) => string | undefined;
  readonly evaluate: (params: Params, context: GuardContext) => boolean;
}

export interface ActionEntry {
  readonly description: string;
  readonly params: Record<string, unknown>;
  readonly check?: (params: Params) => string | undefined;
  /** `undefined` when the action has nothing to do (e.g. a `fromEvent` field the event lacks). */
  readonly toAction?: (params: Params, context: ActionContext) => FragmentAction | undefined;
  /** Handled by XState inside the transition (never returned as a FragmentAction). */
  readonly internal?: 'raise';
}

/** A dotted path of plain keys, e.g. `refund.amount`. */
const PATH_PATTERN = '^[A-Za-z_][A-Za-z0-9_-]{0,63}(\\.[A-Za-z_][A-Za-z0-9_-]{0,63}){0,7}$';
const NAME_PATTERN = '^[A-Za-z][A-Za-z0-9_.-]{0,99}$';
const RESERVED_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

function checkPath(field: string, path: unknown): string | undefined {
  if (typeof path !== 'string') return undefined;
  const reserved = path.split('.').find((segment) => RESERVED_SEGMENTS.has(segment));
  return reserved === undefined ? undefined : `${field} may not use the reserved name "${reserved}"; rename that field`;
}

function checkExpression(source: unknown, expect?: 'bool'): string | undefined {
  if (typeof source !== 'string') return undefined;
  try {
    compileExpression(source, expect);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

export const GUARDS = {
  expr: {
    description: 'A CEL condition over caseFile, milestones, case, event and fragments.',
    params: {
      type: 'object',
      properties: { expr: { type: 'string', minLength: 1, maxLength: 2000 } },
      required: ['expr'],
      additionalProperties: false,
    },
    check: (params) => checkExpression(params.expr, 'bool'),
    evaluate: (params, context) => {
      const compiled = compileExpression(params.expr as string, 'bool');
      if (context.eventUnknown && compiled.readsEvent) return true;
      // Listing what a case accepts (no event at hand), a guard over its budget is simply not
      // taken (fails closed); deciding for an event being sent, or for an eventless transition,
      // it refuses the command with a 422 naming the expression.
      return context.deciding ? evaluateConditionOrThrow(compiled, context.scope) : evaluateCondition(compiled, context.scope);
    },
  },
  milestoneReached: {
    description: 'True when the case has reached the milestone `key`.',
    params: {
      type: 'object',
      properties: { key: { type: 'string', pattern: NAME_PATTERN } },
      required: ['key'],
      additionalProperties: false,
    },
    evaluate: (params, context) => Object.hasOwn(context.scope.milestones ?? {}, params.key as string),
  },
} as const satisfies Record<string, GuardEntry>;

export const ACTIONS = {
  assignCaseFile: {
    description: 'Sets a case-file field to a constant (`value`), a field of the event (`fromEvent: "data.x"`) or a CEL result (`expr`).',
    params: {
      type: 'object',
      properties: {
        path: { type: 'string', pattern: PATH_PATTERN },
        value: {},
        fromEvent: { type: 'string', pattern: PATH_PATTERN },
        expr: { type: 'string', minLength: 1, maxLength: 2000 },
      },
      required: ['path'],
      additionalProperties: false,
    },
    check: (params) => {
      const sources = ['value', 'fromEvent', 'expr'].filter((key) => Object.hasOwn(params, key));
      if (sources.length !== 1) {
        return `give exactly one of value, fromEvent or expr (found ${sources.length === 0 ? 'none' : sources.join(', ')})`;
      }
      return checkPath('path', params.path) ?? checkPath('fromEvent', params.fromEvent) ?? checkExpression(params.expr);
    },
    toAction: (params, context) => {
      const path = params.path as string;
      if (Object.hasOwn(params, 'value')) return { type: 'assignCaseFile', path, value: params.value };
      if (typeof params.fromEvent === 'string') {
        const found = readPath(context.event, params.fromEvent);
        return found.found ? { type: 'assignCaseFile', path, value: found.value } : undefined;
      }
      const compiled = compileExpression(params.expr as string);
      const evaluated = evaluateExpression(compiled, context.scope);
      if (!evaluated.ok) {
        if (evaluated.limit !== undefined) throw evaluated.limit;
        return undefined;
      }
      const json = toJsonValue(evaluated.value);
      if (!json.ok && json.limit !== undefined) {
        throw new ExpressionLimitError(`The expression "${compiled.source.slice(0, 80)}" for ${path} stopped: ${json.error}`);
      }
      return json.ok ? { type: 'assignCaseFile', path, value: json.value } : undefined;
    },
  },
  setMilestone: {
    description: 'Marks the milestone `key` as reached.',
    params: {
      type: 'object',
      properties: { key: { type: 'string', pattern: NAME_PATTERN } },
      required: ['key'],
      additionalProperties: false,
    },
    toAction: (params) => ({ type: 'setMilestone', key: params.key as string }),
  },
  emit: {
    description: 'Publishes an outbound event (`eventType`, optional constant `data`) through the outbox.',
    params: {
      type: 'object',
      properties: {
        eventType: { type: 'string', pattern: NAME_PATTERN },
        data: { type: 'object' },
      },
      required: ['eventType'],
      additionalProperties: false,
    },
    toAction: (params) => ({
      type: 'emit',
      eventType: params.eventType as string,
      data: (params.data as Record<string, unknown> | undefined) ?? {},
    }),
  },
  setPriority: {
    description: 'Changes the case priority.',
    params: {
      type: 'object',
      properties: { priority: { enum: [...PRIORITIES] } },
      required: ['priority'],
      additionalProperties: false,
    },
    toAction: (params) => ({ type: 'setPriority', priority: params.priority as (typeof PRIORITIES)[number] }),
  },
  raiseEvent: {
    description: 'Sends `event` to this fragment right after the current transition (XState raise).',
    params: {
      type: 'object',
      properties: {
        event: {
          type: 'object',
          properties: { type: { type: 'string', pattern: NAME_PATTERN }, data: { type: 'object' } },
          required: ['type'],
          additionalProperties: false,
        },
      },
      required: ['event'],
      additionalProperties: false,
    },
    check: (params) => {
      const type = (params.event as { type?: unknown } | undefined)?.type;
      return typeof type === 'string' && isReservedEventType(type)
        ? `event.type "${type}" is reserved (xstate.* and tessera.* belong to the runtime); choose another name`
        : undefined;
    },
    internal: 'raise',
  },
} as const satisfies Record<string, ActionEntry>;

export type GuardName = keyof typeof GUARDS;
export type ActionName = keyof typeof ACTIONS;

export function isGuardName(name: string): name is GuardName {
  return Object.hasOwn(GUARDS, name);
}

export function isActionName(name: string): name is ActionName {
  return Object.hasOwn(ACTIONS, name);
}

/** Event types the runtime owns: user definitions may not declare or raise them. */
export function isReservedEventType(type: string): boolean {
  return type.startsWith('xstate.') || type.startsWith('tessera.');
}

const ajv = new Ajv({ allErrors: false, strict: true });
const paramValidators = new Map<string, ValidateFunction>();
for (const [name, entry] of Object.entries({ ...prefixKeys('guard:', GUARDS), ...prefixKeys('action:', ACTIONS) })) {
  paramValidators.set(name, ajv.compile(entry.params));
}

function prefixKeys<T>(prefix: string, record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [prefix + key, value]));
}

/**
 * Checks `params` of the guard or action `name` (schema, then semantic checks).
 * Returns problem messages (empty when valid). `name` must be a registry name.
 */
export function checkParams(kind: 'guard' | 'action', name: GuardName | ActionName, params: unknown): string[] {
  const validate = paramValidators.get(`${kind}:${name}`);
  if (validate === undefined) return [`"${name}" is not a registered ${kind}`];
  const value = params ?? {};
  if (!validate(value)) {
    return (validate.errors ?? []).map((error) => {
      const at = error.instancePath === '' ? 'params' : `params${error.instancePath.replaceAll('/', '.')}`;
      const extra = error.keyword === 'additionalProperties' ? ` (${String(error.params.additionalProperty)})` : '';
      return `${at} ${error.message ?? 'is invalid'}${extra}`;
    });
  }
  const entry: GuardEntry | ActionEntry = kind === 'guard' ? GUARDS[name as GuardName] : ACTIONS[name as ActionName];
  const problem = entry.check?.(value as Params);
  return problem === undefined ? [] : [problem];
}

/** Reads a dotted path through own properties only (never the prototype chain). */
export function readPath(root: unknown, path: string): { found: true; value: unknown } | { found: false } {
  let current: unknown = root;
  for (const segment of path.split('.')) {
    if (typeof current !== 'object' || current === null || RESERVED_SEGMENTS.has(segment) || !Object.hasOwn(current, segment)) {
      return { found: false };
    }
    current = (current as Record<string, unknown>)[segment];
  }
  return current === undefined ? { found: false } : { found: true, value: current };
}
