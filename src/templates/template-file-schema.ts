/**
 * The published JSON Schema of a case template file (`case-templates/*.yaml`).
 *
 * Field names are camelCase, exactly the `CaseTemplate` property names, so a file parses
 * straight into a `CaseTemplate` with no renaming. Every object is closed
 * (`additionalProperties: false`) except the embedded JSON Schemas (`caseFileSchema`),
 * which are checked separately by compiling them with Ajv.
 *
 * The schema is shape only. What it cannot say (fragment refs exist, CEL compiles, goal keys
 * are unique, SLAs name goals with deadlines) is checked by `checkTemplate`.
 */
import Type, { type Static } from 'typebox';
import { PRIORITIES } from '../cases/types.js';
import { INTAKE_KINDS } from '../inbound/intake-event.js';
import {
  FRAGMENT_REF_PATTERN,
  ISO_DURATION_PATTERN,
  KEY_PATTERN,
  NAME_PATTERN,
  SNAKE_KEY_PATTERN,
} from './patterns.js';
import { INTAKE_ACTIONS, type CaseTemplate } from './types.js';
import { DeviationSpecSchema } from './deviation-schema.js';

const Duration = (description: string) =>
  Type.String({ pattern: ISO_DURATION_PATTERN, description });

const Cel = (description: string) => Type.String({ minLength: 1, maxLength: 2000, description });

const Name = (description: string) => Type.String({ pattern: NAME_PATTERN, maxLength: 64, description });

// Written out (not mapped from PRIORITIES) so the static type is the literal union; the
// checks at the bottom of the file keep the two lists equal.
const PrioritySchema = Type.Union(
  [Type.Literal('low'), Type.Literal('normal'), Type.Literal('high'), Type.Literal('urgent')],
  { description: 'Case priority.' },
);

const LocalTime = Type.String({ pattern: '^(([01]\\d|2[0-3]):[0-5]\\d|24:00)$', description: 'Local time HH:mm; 24:00 is midnight at the end of the day.' });
// A 2020-12 tuple (prefixItems) written out: TypeBox's Tuple emits the older array form of `items`,
// which Ajv2020 refuses.
const OpenClose = Type.Unsafe<[string, string]>({
  type: 'array',
  prefixItems: [LocalTime, LocalTime],
  items: false,
  minItems: 2,
  maxItems: 2,
  description: '[open, close), local HH:mm.',
});
const WorkingIntervals = Type.Array(OpenClose, { description: 'Working intervals of the day.' });

export const BusinessCalendarSchema = Type.Object(
  {
    zone: Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone, e.g. Europe/Berlin.' }),
    week: Type.Object(
      {
        mon: Type.Optional(WorkingIntervals),
        tue: Type.Optional(WorkingIntervals),
        wed: Type.Optional(WorkingIntervals),
        thu: Type.Optional(WorkingIntervals),
        fri: Type.Optional(WorkingIntervals),
        sat: Type.Optional(WorkingIntervals),
        sun: Type.Optional(WorkingIntervals),
      },
      { additionalProperties: false, description: 'Working hours per weekday; a missing day is closed.' },
    ),
    holidays: Type.Optional(
      Type.Array(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }), { description: 'ISO dates in the zone with no working time.' }),
    ),
  },
  { additionalProperties: false },
);

export const GoalSpecSchema = Type.Object(
  {
    key: Type.String({ pattern: SNAKE_KEY_PATTERN, maxLength: 64, description: 'snake_case, unique in the template.' }),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    condition: Cel('CEL over { caseFile, milestones, case, fragments } that makes the goal achieved.'),
    required: Type.Boolean({ description: 'Required goals must be achieved before the case resolves.' }),
    deadline: Type.Optional(Duration('ISO 8601 duration from case open, e.g. PT1H, P2D.')),
    deadlineFrom: Type.Optional(
      Type.Object(
        { milestone: Type.String({ pattern: SNAKE_KEY_PATTERN, description: 'A milestone of this template.' }) },
        { additionalProperties: false, description: 'Start the deadline clock when this milestone is reached, not at case open.' },
      ),
    ),
    deadlineCalendar: Type.Optional(BusinessCalendarSchema),
  },
  { additionalProperties: false },
);

export const MilestoneSpecSchema = Type.Object(
  {
    key: Type.String({ pattern: SNAKE_KEY_PATTERN, maxLength: 64, description: 'Set by the setMilestone action.' }),
    title: Type.String({ minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false },
);

const FragmentRefSchema = Type.String({
  pattern: FRAGMENT_REF_PATTERN,
  description: 'key@version of a fragment definition, e.g. verify-identity@1.',
});

export const IntakeRuleSchema = Type.Object(
  {
    source: Name('Inbound source, as in POST /v1/inbound/:source.'),
    eventType: Type.String({ minLength: 1, maxLength: 200, description: 'Event type the source mapping gives (intake.type).' }),
    kind: Type.Optional(
      Type.Union([Type.Literal('social_post'), Type.Literal('crm_event'), Type.Literal('activity'), Type.Literal('case_event')], {
        description: 'Only events of this kind; absent: any.',
      }),
    ),
    when: Type.Optional(Cel('CEL over { event, customer }; absent means always.')),
    action: Type.Union([Type.Literal('open'), Type.Literal('attach'), Type.Literal('record')], {
      description: 'open a case of this template, attach to the customer\'s open case, or only record the event on the customer.',
    }),
    queue: Type.Optional(Name('open: the queue the case is routed to (default: defaultQueue).')),
    title: Type.Optional(Cel('open: CEL producing the case title.')),
    priority: PrioritySchema,
    priorityRules: Type.Optional(
      Type.Array(
        Type.Object({ when: Cel('CEL over { event, customer }.'), priority: PrioritySchema }, { additionalProperties: false }),
        { description: 'First match overrides `priority`.' },
      ),
    ),
    threadBy: Type.Optional(
      Type.Array(Type.String({ pattern: '^(ref:[A-Za-z0-9_.-]{1,100}|identity|customer)$' }), {
        minItems: 1,
        maxItems: 3,
        description: 'ref:<external ref name>, identity, customer; tried in that precedence. Required for attach.',
      }),
    ),
  },
  { additionalProperties: false },
);

const NotifyOrReassign = (action: 'notify' | 'reassign') =>
  Type.Object(
    { action: Type.Literal(action), role: Type.Optional(Name('Role.')), queue: Type.Optional(Name('Queue.')) },
    { additionalProperties: false },
  );

export const EscalationSchema = Type.Union([
  NotifyOrReassign('notify'),
  NotifyOrReassign('reassign'),
  Type.Object({ action: Type.Literal('setPriority'), priority: PrioritySchema }, { additionalProperties: false }),
  Type.Object(
    {
      action: Type.Literal('startFragment'),
      fragment: Type.String({ pattern: FRAGMENT_REF_PATTERN, description: 'key@version of the escalation fragment.' }),
      queue: Type.Optional(Name('Queue the fragment is assigned to.')),
    },
    { additionalProperties: false },
  ),
]);

export const SlaSpecSchema = Type.Object(
  {
    goal: Type.String({ pattern: SNAKE_KEY_PATTERN, description: 'A goal of this template with a deadline.' }),
    warnBefore: Type.Optional(Duration('At risk this long before the deadline.')),
    onWarning: Type.Optional(Type.Array(EscalationSchema)),
    onBreach: Type.Optional(Type.Array(EscalationSchema)),
  },
  { additionalProperties: false },
);

const Weight = (factor: string) => Type.Optional(Type.Number({ description: `weight of ${factor} (>= 0)` }));

export const TemplatePrioritySchema = Type.Object(
  {
    severity: Type.Optional(
      Type.Union([Type.Literal('low'), Type.Literal('normal'), Type.Literal('high'), Type.Literal('critical')], { description: 'Severity of the case type (a factor of the score).' }),
    ),
    weights: Type.Optional(
      Type.Object(
        {
          lifetime_value: Weight('the customer lifetime value percentile'),
          referral_value: Weight('the customer referral value percentile'),
          sentiment: Weight('the most negative post'),
          reach: Weight('the widest post'),
          influence: Weight("the most followed author's followers"),
          virality: Weight('the fastest engagement growth'),
          severity: Weight('the template severity'),
        },
        { additionalProperties: false, description: 'Factor weights; missing ones keep their default.' },
      ),
    ),
    thresholds: Type.Optional(
      Type.Object(
        { normal: Type.Optional(Type.Number()), high: Type.Optional(Type.Number()), urgent: Type.Optional(Type.Number()) },
        { additionalProperties: false, description: 'Score (0..100) from which the priority is normal, high, urgent; strictly increasing.' },
      ),
    ),
  },
  { additionalProperties: false },
);

export const SignalEscalationSchema = Type.Object(
  {
    when: Type.Object(
      { reach: Type.Optional(Type.Number({ description: 'the widest post reaches this many people' })), virality: Type.Optional(Type.Number({ description: 'a post gains this many engagements per hour' })) },
      { additionalProperties: false, description: 'Exactly one of reach, virality.' },
    ),
    raisePriority: Type.Optional(PrioritySchema),
    actions: Type.Array(EscalationSchema, { description: 'notify, reassign, setPriority, startFragment (as in SLA escalations).' }),
  },
  { additionalProperties: false },
);

export const SentrySpecSchema = Type.Object(
  {
    fragment: Type.String({ pattern: FRAGMENT_REF_PATTERN, description: 'key@version of a default or discretionary fragment of this template.' }),
    startWhen: Type.Optional(Cel('Start the fragment (once per case) when this CEL condition over the case becomes true; a default fragment with one waits for it instead of starting at open.')),
    exitWhen: Type.Optional(Cel('End the running fragment when this CEL condition over the case becomes true.')),
  },
  { additionalProperties: false },
);

export const TemplateFileSchema = Type.Object(
  {
    key: Type.String({ pattern: KEY_PATTERN, maxLength: 64, description: 'kebab-case template key.' }),
    version: Type.Integer({ minimum: 1, description: 'Immutable once published; bump to change.' }),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 4000 })),
    caseFileSchema: Type.Record(Type.String(), Type.Unknown(), {
      description: 'JSON Schema (draft 2020-12) of the case file; must describe an object.',
    }),
    goals: Type.Array(GoalSpecSchema),
    milestones: Type.Array(MilestoneSpecSchema),
    defaultFragments: Type.Array(FragmentRefSchema, { description: 'Started when the case opens.' }),
    discretionaryFragments: Type.Optional(
      Type.Array(FragmentRefSchema, { description: 'Offered on the planning table; leave out when none (defaults to []).' }),
    ),
    roles: Type.Array(Name('Role.'), { minItems: 1, uniqueItems: true }),
    defaultQueue: Type.Optional(Name('Queue new cases land in.')),
    resolution: Type.Union([Type.Literal('auto'), Type.Literal('owner')], {
      description: 'auto: resolve when required goals are achieved; owner: the owner closes.',
    }),
    intake: Type.Optional(Type.Array(IntakeRuleSchema)),
    slas: Type.Optional(Type.Array(SlaSpecSchema)),
    pausable: Type.Optional(Type.Boolean({ description: 'Cases may be put on hold; goal clocks stop while held.' })),
    calendar: Type.Optional(BusinessCalendarSchema),
    priority: Type.Optional(TemplatePrioritySchema),
    escalations: Type.Optional(Type.Array(SignalEscalationSchema, { description: 'Reach / virality thresholds; each escalates once per case.' })),
    deviation: Type.Optional(DeviationSpecSchema),
    sentries: Type.Optional(Type.Array(SentrySpecSchema, { description: 'Entry (startWhen) and exit (exitWhen) criteria of fragments, evaluated in this order after every change.' })),
  },
  {
    $id: 'https://tessera.dev/schemas/case-template.json',
    title: 'Tessera case template',
    additionalProperties: false,
  },
);

export type TemplateFile = Static<typeof TemplateFileSchema>;

/** The template a checked file describes: optional lists filled with their defaults. */
export function templateFromFile(file: TemplateFile): CaseTemplate {
  return { ...file, discretionaryFragments: file.discretionaryFragments ?? [] };
}

// Compile-time checks: a value that passes the schema is a CaseTemplate, and the written-out
// literal lists are exactly the domain's lists.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const templateFileIsCaseTemplate = (t: Omit<TemplateFile, 'discretionaryFragments'> & Pick<CaseTemplate, 'discretionaryFragments'>): CaseTemplate => t;
const prioritiesMatch: Same<Static<typeof PrioritySchema>, (typeof PRIORITIES)[number]> = true;
const intakeKindsMatch: Same<NonNullable<NonNullable<TemplateFile['intake']>[number]['kind']>, (typeof INTAKE_KINDS)[number]> = true;
const intakeActionsMatch: Same<NonNullable<TemplateFile['intake']>[number]['action'], (typeof INTAKE_ACTIONS)[number]> = true;
void templateFileIsCaseTemplate;
void prioritiesMatch;
void intakeActionsMatch;
void intakeKindsMatch;
