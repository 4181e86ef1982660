/**
 * The published JSON Schema of a fragment definition file
 * (`case-templates/fragments/*.{yaml,yml,json}`): a `FragmentDefinition`, i.e. the JSON form
 * of an XState v5 machine config, with camelCase field names as XState spells them.
 *
 * Shape only, and closed everywhere except `meta` (XState's free-form metadata; only
 * `meta.task` is typed) and `params` of guards and actions (their shape depends on the
 * registry entry). Machine semantics — targets exist, guard and action names come from
 * the registry, CEL compiles, delays resolve, size limits — belong to
 * `validateFragmentDefinition` in src/fragments/, which the loader runs after this schema.
 */
import Type from 'typebox';
import { ISO_DURATION_PATTERN, KEY_PATTERN, NAME_PATTERN } from './patterns.js';

const NamedRef = (what: string) =>
  Type.Union([
    Type.String({ minLength: 1, description: `${what} name from the registry.` }),
    Type.Object(
      {
        type: Type.String({ minLength: 1, description: `${what} name from the registry.` }),
        params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      },
      { additionalProperties: false },
    ),
  ]);

export const GuardJsonSchema = NamedRef('Guard');
export const ActionJsonSchema = NamedRef('Action');

const Actions = Type.Union([ActionJsonSchema, Type.Array(ActionJsonSchema)]);

export const TransitionJsonSchema = Type.Union([
  Type.String({ minLength: 1, description: 'Target state (sibling key, or #id.path).' }),
  Type.Object(
    {
      target: Type.Optional(Type.String({ minLength: 1 })),
      guard: Type.Optional(GuardJsonSchema),
      actions: Type.Optional(Actions),
      description: Type.Optional(Type.String()),
    },
    { additionalProperties: false },
  ),
]);

const Transitions = Type.Union([TransitionJsonSchema, Type.Array(TransitionJsonSchema)]);

export const TaskSpecSchema = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200 }),
    role: Type.Optional(Type.String({ pattern: NAME_PATTERN })),
    queue: Type.Optional(Type.String({ pattern: NAME_PATTERN })),
    form: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: 'JSON Schema of the completion output.' }),
    ),
    event: Type.Optional(Type.String({ minLength: 1, description: 'Sent on completion; default COMPLETE.' })),
    due: Type.Optional(Type.String({ pattern: ISO_DURATION_PATTERN, description: 'ISO 8601 duration.' })),
    skills: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_.-]{0,63}$' }), Type.Integer({ minimum: 1, maximum: 5 }), {
        maxProperties: 20,
        description: 'Routing: skill -> minimum level (1-5) the worker needs.',
      }),
    ),
    effort: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Routing: capacity units the task takes (default 1).' })),
    kind: Type.Optional(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_.-]{0,63}$', description: 'Routing: the kind of work whose capacity it uses (default `default`).' })),
  },
  { additionalProperties: false },
);

/** One state node; `states` nests the same shape (a cyclic schema with its own `$defs`). */
export const StateJsonSchema = Type.Cyclic(
  {
    TesseraFragmentState: Type.Object(
      {
        type: Type.Optional(
          Type.Union([Type.Literal('atomic'), Type.Literal('compound'), Type.Literal('parallel'), Type.Literal('final')]),
        ),
        initial: Type.Optional(Type.String({ minLength: 1 })),
        states: Type.Optional(Type.Record(Type.String(), Type.Ref('TesseraFragmentState'))),
        on: Type.Optional(Type.Record(Type.String(), Transitions)),
        after: Type.Optional(
          Type.Record(Type.String(), Transitions, {
            description: 'Keys are milliseconds ("5000") or ISO 8601 durations ("PT1H").',
          }),
        ),
        always: Type.Optional(Transitions),
        entry: Type.Optional(Actions),
        exit: Type.Optional(Actions),
        tags: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { uniqueItems: true })),
        meta: Type.Optional(
          Type.Object({ task: Type.Optional(TaskSpecSchema) }, { additionalProperties: true }),
        ),
        description: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
  },
  'TesseraFragmentState',
);

export const MachineJsonSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, description: 'Root id; part of xstate.after.* event types.' }),
    initial: Type.String({ minLength: 1 }),
    states: Type.Record(Type.String(), StateJsonSchema),
    context: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Plain data only.' })),
  },
  { additionalProperties: false },
);

export const FragmentFileSchema = Type.Object(
  {
    key: Type.String({ pattern: KEY_PATTERN, maxLength: 64, description: 'kebab-case fragment key.' }),
    version: Type.Integer({ minimum: 1, description: 'Immutable once published; bump to change.' }),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    machine: MachineJsonSchema,
  },
  {
    $id: 'https://tessera.dev/schemas/fragment-definition.json',
    title: 'Tessera fragment definition',
    additionalProperties: false,
  },
);
