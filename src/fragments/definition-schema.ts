/**
 * The JSON shape of a fragment definition (JSON Schema, draft-07), checked before any
 * semantic rule. Unknown keys are refused everywhere except `meta` (free annotations) and
 * action/guard `params` (checked per registry entry).
 */

/** State keys and the machine id: no dots or `#` (XState path syntax), no prototype names. */
export const STATE_KEY_PATTERN = '^[A-Za-z][A-Za-z0-9_-]{0,63}$';
/** Event types, e.g. `APPROVE`, `refund.approved`. No wildcards. */
export const EVENT_TYPE_PATTERN = '^[A-Za-z][A-Za-z0-9_.-]{0,99}$';
export const DEFINITION_KEY_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$';

export const DEFINITION_SHAPE_LIMITS = {
  maxEventsPerState: 50,
  maxTransitionsPerEvent: 20,
  maxActionsPerList: 20,
  maxDelaysPerState: 10,
  maxTags: 10,
} as const;

const L = DEFINITION_SHAPE_LIMITS;

/** `string | T`, written with if/then/else so a failure reports one clear error, not every branch. */
function stringOr(stringSchema: Record<string, unknown>, otherType: string, otherSchema: Record<string, unknown>) {
  return { type: ['string', otherType], if: { type: 'string' }, then: stringSchema, else: otherSchema };
}

const NAME_SCHEMA = { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_]{0,63}$' };
const named = stringOr(NAME_SCHEMA, 'object', {
  properties: { type: NAME_SCHEMA, params: { type: 'object' } },
  required: ['type'],
  additionalProperties: false,
});

export const definitionSchema = {
  $id: 'tessera:fragment-definition',
  type: 'object',
  properties: {
    key: { type: 'string', pattern: DEFINITION_KEY_PATTERN },
    version: { type: 'integer', minimum: 1 },
    title: { type: 'string', minLength: 1, maxLength: 200 },
    description: { type: 'string', maxLength: 2000 },
    machine: {
      type: 'object',
      properties: {
        id: { type: 'string', pattern: STATE_KEY_PATTERN },
        initial: { type: 'string', minLength: 1 },
        states: { $ref: '#/definitions/states' },
        context: { type: 'object' },
      },
      required: ['id', 'initial', 'states'],
      additionalProperties: false,
    },
  },
  required: ['key', 'version', 'title', 'machine'],
  additionalProperties: false,
  definitions: {
    states: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: STATE_KEY_PATTERN },
      additionalProperties: { $ref: '#/definitions/state' },
    },
    action: named,
    actions: {
      if: { type: 'array' },
      then: { maxItems: L.maxActionsPerList, items: { $ref: '#/definitions/action' } },
      else: { $ref: '#/definitions/action' },
    },
    transition: stringOr({ minLength: 1, maxLength: 300 }, 'object', {
      properties: {
        target: { type: 'string', minLength: 1, maxLength: 300 },
        // XState v5: exit and enter the target again even when it is the source (or contains it).
        reenter: { type: 'boolean' },
        guard: named,
        actions: { $ref: '#/definitions/actions' },
        description: { type: 'string', maxLength: 2000 },
      },
      additionalProperties: false,
    }),
    transitions: {
      if: { type: 'array' },
      then: { minItems: 1, maxItems: L.maxTransitionsPerEvent, items: { $ref: '#/definitions/transition' } },
      else: { $ref: '#/definitions/transition' },
    },
    task: {
      type: 'object',
      properties: {
        title: { type: 'string', minLength: 1, maxLength: 200 },
        role: { type: 'string', minLength: 1, maxLength: 100 },
        queue: { type: 'string', minLength: 1, maxLength: 100 },
        form: { type: 'object' },
        event: { type: 'string', pattern: EVENT_TYPE_PATTERN },
        due: { type: 'string', minLength: 2, maxLength: 40 },
        skills: {
          type: 'object',
          maxProperties: 20,
          propertyNames: { pattern: '^[A-Za-z][A-Za-z0-9_.-]{0,63}$' },
          additionalProperties: { type: 'integer', minimum: 1, maximum: 5 },
        },
        effort: { type: 'integer', minimum: 1, maximum: 100 },
        kind: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_.-]{0,63}$' },
      },
      required: ['title'],
      additionalProperties: false,
    },
    state: {
      type: 'object',
      properties: {
        type: { enum: ['atomic', 'compound', 'parallel', 'final'] },
        initial: { type: 'string', minLength: 1 },
        states: { $ref: '#/definitions/states' },
        on: {
          type: 'object',
          maxProperties: L.maxEventsPerState,
          propertyNames: { pattern: EVENT_TYPE_PATTERN },
          additionalProperties: { $ref: '#/definitions/transitions' },
        },
        after: {
          type: 'object',
          maxProperties: L.maxDelaysPerState,
          propertyNames: { minLength: 1, maxLength: 40 },
          additionalProperties: { $ref: '#/definitions/transitions' },
        },
        always: { $ref: '#/definitions/transitions' },
        entry: { $ref: '#/definitions/actions' },
        exit: { $ref: '#/definitions/actions' },
        tags: {
          type: 'array',
          maxItems: L.maxTags,
          uniqueItems: true,
          items: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_-]{0,63}$' },
        },
        meta: {
          type: 'object',
          properties: { task: { $ref: '#/definitions/task' } },
        },
        description: { type: 'string', maxLength: 2000 },
      },
      additionalProperties: false,
    },
  },
} as const;
