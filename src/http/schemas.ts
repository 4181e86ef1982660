/** Request and response schemas of the case API (TypeBox -> validation, serialization, OpenAPI). */
import { GoalClockView } from './goal-clock-view.js';
import { Type, type Static, type TObject, type TSchema, type TUnion } from 'typebox';
import { CASE_STATUSES, CONTENT_KINDS, FRAGMENT_STATUSES, GOAL_SLA_STATES, GOAL_STATUSES, PRIORITIES, TASK_STATUSES } from '../cases/types.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './paging.js';
import { CaseCustomerSummary } from './customer-schemas.js';

const Id = Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\s]+$' });
const Text = (max = 500) => Type.String({ minLength: 1, maxLength: max });
const Json = Type.Record(Type.String(), Type.Unknown());

/**
 * A body the client may leave out. Fastify validates a missing body as `null`, so the schema
 * must admit null; a body that is sent is checked in full (unknown fields refused).
 */
const Omittable = <T extends ReturnType<typeof Type.Object>>(schema: T) => Type.Union([schema, Type.Null()]);

export const Assignment = Type.Object(
  { user_id: Type.Optional(Id), queue: Type.Optional(Id) },
  { additionalProperties: false, minProperties: 1, description: 'A person or a queue' },
);
export type AssignmentBody = Static<typeof Assignment>;

export const Customer = Type.Object(
  {
    id: Type.Optional(Id),
    name: Type.Optional(Text(200)),
    handle: Type.Optional(Text(200)),
    email: Type.Optional(Type.String({ format: 'email', maxLength: 320 })),
    channel: Type.Optional(Type.String({ minLength: 1, maxLength: 40, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$', description: 'the channel of the handle (default: social)' })),
    phone: Type.Optional(Type.String({ minLength: 3, maxLength: 40 })),
    external_ids: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 50 }), Type.String({ minLength: 1, maxLength: 200 }), { maxProperties: 20 })),
  },
  {
    additionalProperties: false,
    description:
      'The case\'s customer: found by id, external id, e-mail, phone or handle, or created (a given id that nobody holds becomes the new customer\'s id)',
  },
);

export const OpenCaseBody = Type.Object(
  {
    template: Id,
    template_version: Type.Optional(Type.Integer({ minimum: 1 })),
    title: Text(300),
    priority: Type.Optional(Type.Enum(PRIORITIES)),
    owner_id: Type.Optional(Id),
    queue: Type.Optional(Id),
    customer: Type.Optional(Customer),
    external_refs: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 500 }), { maxProperties: 50 })),
    case_file: Type.Optional(Json),
  },
  { additionalProperties: false },
);

export type OpenCaseBodyType = Static<typeof OpenCaseBody>;

export const SendEventBody = Type.Object(
  {
    type: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z][\\w.-]*$' }),
    data: Type.Optional(Json),
    fragment_id: Type.Optional(Id),
  },
  { additionalProperties: false },
);

/**
 * What-if (every adaptation command): true answers the resulting plan, the goals' projected SLA
 * and the capacity of the people it touches, and writes nothing (commands/what-if.ts).
 */
export const DryRun = Type.Boolean({
  description: 'true: decide the command and answer what it would do (resulting plan, projected goal SLA, capacity after it) without writing anything',
});

export const AddFragmentBody = Type.Object(
  {
    ref: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]*@\\d+$', description: 'key@version from the library' })),
    definition: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'an inline fragment: { title, machine }' })),
    checklist: Type.Optional(
      Type.Object({ title: Text(200), steps: Type.Array(Text(300), { minItems: 1, maxItems: 100 }) }, { additionalProperties: false }),
    ),
    assignment: Type.Optional(Assignment),
    reason: Type.Optional(Text(2000)),
    dry_run: Type.Optional(DryRun),
  },
  { additionalProperties: false, minProperties: 1 },
);

/**
 * A union dispatched on its `tag` property (Ajv's and OpenAPI's `discriminator`): a body is
 * checked against the one branch its tag names, so the errors name only what is wrong for the
 * branch asked; a missing or unknown tag is one error at `/<tag>` listing the allowed values.
 * Every branch must declare the tag as a literal and require it.
 */
export function Tagged<T extends TObject[]>(tag: string, branches: [...T], options: { description?: string } = {}) {
  return Type.Unsafe<Static<TUnion<T>>>({ type: 'object', discriminator: { propertyName: tag }, oneOf: branches, ...options });
}

export const ADAPT_ACTIONS = ['migrate', 'jump', 'cancel', 'reassign'] as const;

export const AdaptFragmentBody = Tagged('action', [
  Type.Object(
    {
      action: Type.Literal('migrate'),
      to: Type.String({ pattern: '^[a-z0-9][a-z0-9-]*@\\d+$', description: 'the definition to migrate to, key@version' }),
      state_mapping: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'old state -> new state, for states renamed in the new version' })),
      reason: Text(2000),
      dry_run: Type.Optional(DryRun),
    },
    { additionalProperties: false, title: 'migrate' },
  ),
  Type.Object({ action: Type.Literal('jump'), state: Text(200), reason: Text(2000), dry_run: Type.Optional(DryRun) }, { additionalProperties: false, title: 'jump' }),
  Type.Object({ action: Type.Literal('cancel'), reason: Text(2000), dry_run: Type.Optional(DryRun) }, { additionalProperties: false, title: 'cancel' }),
  Type.Object({ action: Type.Literal('reassign'), assignment: Assignment, reason: Type.Optional(Text(2000)), dry_run: Type.Optional(DryRun) }, { additionalProperties: false, title: 'reassign' }),
], { description: `One of the actions ${ADAPT_ACTIONS.join(' | ')}, each with its own fields` });

export const AddGoalBody = Type.Object(
  {
    key: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]*$', maxLength: 100 }),
    title: Text(300),
    condition: Type.String({ minLength: 1, maxLength: 2000 }),
    required: Type.Optional(Type.Boolean()),
    deadline_at: Type.Optional(Type.String({ format: 'date-time' })),
    reason: Type.Optional(Text(2000)),
    dry_run: Type.Optional(DryRun),
  },
  { additionalProperties: false },
);

export const UpdateGoalBody = Type.Object(
  {
    deadline_at: Type.Optional(
      Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
        description: 'The new deadline (RFC 3339); null removes the deadline and cancels its SLA timers. Leave it out to keep it.',
      }),
    ),
    title: Type.Optional(Text(300)),
    reason: Text(2000),
    dry_run: Type.Optional(DryRun),
  },
  { additionalProperties: false },
);

/**
 * `data` is checked against the kind's schema by the engine (signals/content-kinds.ts), so a
 * wrong field is a 422 CONTENT_INVALID naming `/data/<field>` — the same check the inbound
 * mappings' `attach` goes through. The kinds' schemas are in the description below.
 */
export const AddContentBody = Type.Object(
  {
    kind: Type.Enum(CONTENT_KINDS),
    data: Type.Record(Type.String(), Type.Unknown(), {
      description:
        'The item, by kind; unknown fields are refused (free-form data goes under `extra`, an object). ' +
        'social_post: channel*, post_id or url* (identity: the same again updates the post), author_handle, text, posted_at, followers, engagements, reach (integers >= 0), sentiment {score -1..1*, label, source}. ' +
        'crm_profile: lifetime_value, referral_value (>= 0), churn_risk 0..1, segment, tier, as_of, source. ' +
        'note: text*, visibility internal|public. attachment: name*, media_type*, url* (https), size, sha256. (* required)',
    }),
  },
  { additionalProperties: false },
);

export const ReassignBody = Type.Object(
  { owner_id: Type.Optional(Id), queue: Type.Optional(Id), reason: Type.Optional(Text(2000)), dry_run: Type.Optional(DryRun) },
  { additionalProperties: false, minProperties: 1 },
);

export const CloseBody = Omittable(
  Type.Object(
    { reason: Type.Optional(Text(2000)), status: Type.Optional(Type.Union([Type.Literal('closed'), Type.Literal('cancelled')])) },
    { additionalProperties: false },
  ),
);

export const HoldBody = Type.Object({ reason: Text(2000) }, { additionalProperties: false });
export const ResumeBody = Omittable(Type.Object({ reason: Type.Optional(Text(2000)) }, { additionalProperties: false }));

/** Routes that take no fields still refuse unknown ones. */
export const EmptyBody = Omittable(Type.Object({}, { additionalProperties: false }));
export const CompleteTaskBody = Omittable(Type.Object({ output: Type.Optional(Json) }, { additionalProperties: false }));
export const ReassignTaskBody = Type.Object({ assignment: Assignment, reason: Type.Optional(Text(2000)), dry_run: Type.Optional(DryRun) }, { additionalProperties: false });

export const AssignTaskBody = Type.Object(
  {
    user_id: Id,
    override_capacity: Type.Optional(
      Type.Object({ reason: Text(2000) }, { additionalProperties: false, description: "Assign beyond the person's free capacity; the reason is journaled" }),
    ),
  },
  { additionalProperties: false },
);

export const CaseParams = Type.Object({ id: Id });
export const FragmentParams = Type.Object({ id: Id, fid: Id });
export const GoalParams = Type.Object({ id: Id, key: Id });
export const TaskParams = Type.Object({ id: Id });

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE, description: `page size, at most ${MAX_PAGE_SIZE}` })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'next_cursor of the previous page, unchanged' })),
};

export const CaseListQuery = Type.Object(
  {
    ...PageQuery,
    status: Type.Optional(Type.String({ maxLength: 50 })),
    owner_id: Type.Optional(Id),
    queue: Type.Optional(Id),
    template: Type.Optional(Id),
    customer_id: Type.Optional(Id),
    priority: Type.Optional(Type.Enum(PRIORITIES)),
    ids: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 20_000,
        description: `a lookup: only these case ids, separated by commas (at most ${MAX_PAGE_SIZE}, one page); ids the caller may not see are left out`,
      }),
    ),
  },
  { additionalProperties: false },
);

export const TaskListQuery = Type.Object(
  {
    ...PageQuery,
    assignee_id: Type.Optional(Id),
    queue: Type.Optional(Id),
    case_id: Type.Optional(Id),
    status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('completed'), Type.Literal('cancelled')])),
  },
  { additionalProperties: false },
);

/** A case screen shows the whole timeline: one page of up to 500 entries keeps it to one request for most cases. */
export const MAX_TIMELINE_PAGE_SIZE = 500;
export const TimelineQuery = Type.Object(
  {
    ...PageQuery,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TIMELINE_PAGE_SIZE, default: DEFAULT_PAGE_SIZE, description: `page size, at most ${MAX_TIMELINE_PAGE_SIZE}` })),
  },
  { additionalProperties: false },
);
export const ContentParams = Type.Object({ id: Id, content_id: Id });
export const ContentQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const GoalView = Type.Object({
  key: Type.String(),
  title: Type.String(),
  condition: Type.String(),
  required: Type.Boolean(),
  status: Type.Enum(GOAL_STATUSES),
  deadline_at: Nullable(Type.String()),
  achieved_at: Nullable(Type.String()),
  ad_hoc: Type.Boolean(),
  /** on_track | at_risk | breached; null without a deadline. */
  sla: Type.Union([Type.Enum(GOAL_SLA_STATES), Type.Null()]),
  at_risk_at: Nullable(Type.String()),
  achieved_late: Type.Boolean(),
});

/** README "Handoff brief": deterministic, every claim traceable to the journal or the case. */
export const HandoffBriefView = Type.Object({
  built_at: Type.String(),
  at_version: Type.Integer({ description: 'Case version of the handoff' }),
  since_version: Type.Integer({ description: 'Covers journal versions after this one (the previous handoff, or 0)' }),
  handoff: Type.Object({
    kind: Type.Union([Type.Literal('case'), Type.Literal('task')]),
    task_id: Type.Optional(Type.String()),
    to: Type.Unknown(),
    from: Type.Optional(Type.Unknown()),
    by: Type.String(),
  }),
  since_last_handoff: Type.Object({
    entries: Type.Integer(),
    by_type: Type.Record(Type.String(), Type.Integer()),
    highlights: Type.Array(
      Type.Object({ version: Type.Integer(), at: Type.String(), type: Type.String(), actor_id: Type.String(), summary: Type.String() }),
    ),
  }),
  open_goals: Type.Array(Type.Unknown()),
  pending_tasks: Type.Array(Type.Unknown()),
  last_customer_contact: Type.Unknown({ description: '{at, channel?, summary?, source} or null' }),
  customer: Type.Unknown({ description: '{source, value: {lifetime_value?, segment?, churn_risk?} | null, mood: {sentiment, label, at?} | null} or null' }),
});

export const TaskView = Type.Object({
  id: Type.String(),
  case_id: Type.String(),
  fragment_id: Type.String(),
  state: Type.String(),
  title: Type.String(),
  role: Nullable(Type.String()),
  assignee_id: Nullable(Type.String()),
  queue: Nullable(Type.String()),
  work_queue: Nullable(Type.String({ description: "The task's queue; kept while a person holds it" })),
  skills: Type.Record(Type.String(), Type.Integer(), { description: 'Routing: skill -> minimum level' }),
  effort: Type.Integer({ description: 'Routing: capacity units it takes' }),
  kind: Type.String({ description: 'Routing: the capacity bucket it counts against' }),
  form: Type.Unknown(),
  event: Type.String(),
  status: Type.Enum(TASK_STATUSES),
  opened_at: Type.String(),
  due_at: Nullable(Type.String()),
  claimed_by: Nullable(Type.String()),
  closed_at: Nullable(Type.String()),
  completed_by: Nullable(Type.String()),
  output: Type.Unknown(),
});

export const FragmentView = Type.Object({
  id: Type.String(),
  definition: Type.String(),
  title: Type.String(),
  status: Type.Enum(FRAGMENT_STATUSES, { description: 'active while it runs; done when it reached a final state; cancelled' }),
  states: Type.Array(Type.String()),
  accepted_events: Type.Array(Type.String()),
  assignee_id: Nullable(Type.String()),
  queue: Nullable(Type.String()),
  started_at: Type.String(),
  ended_at: Nullable(Type.String()),
});

const TemplateRef = Type.Object({ key: Type.String(), version: Type.Integer() });

export const PriorityFactorView = Type.Object({
  name: Type.String({ description: 'lifetime_value, referral_value, sentiment, reach, influence, virality, severity' }),
  value: Type.Number({ description: 'the input, normalised to 0..1' }),
  weight: Type.Number(),
  contribution: Type.Number({ description: 'points of the score; the contributions sum to the score' }),
  explanation: Type.String(),
});

export const PriorityView = Type.Object(
  {
    value: Type.Enum(PRIORITIES, { description: 'the effective priority (what ?priority= filters on)' }),
    score: Nullable(Type.Number({ description: '0..100, the sum of the factor contributions' })),
    computed: Nullable(Type.Enum(PRIORITIES, { description: "the score's priority under the template's thresholds" })),
    floor: Type.Enum(PRIORITIES, { description: 'the lowest the case may have: opened with, raised by SLA and reach escalations' }),
    factors: Type.Array(PriorityFactorView),
    computed_at: Nullable(Type.String()),
    overridden_by: Nullable(
      Type.Object({ user_id: Type.String(), priority: Type.Enum(PRIORITIES), reason: Type.String(), at: Type.String() }, { description: "a supervisor's override; holds until lifted" }),
    ),
    escalations_crossed: Type.Array(Type.String(), { description: 'reach/virality thresholds already crossed (each escalates once)' }),
  },
  { description: 'effective = override ?? max(floor, computed)' },
);

export const PostView = Type.Object({
  content_id: Type.String(),
  channel: Type.String(),
  author_handle: Nullable(Type.String()),
  reach: Nullable(Type.Number()),
  engagements: Nullable(Type.Number()),
  followers: Nullable(Type.Number()),
  sentiment: Nullable(Type.Object({ score: Type.Number(), source: Type.String(), model: Nullable(Type.String()) })),
  engagements_per_hour: Nullable(Type.Number()),
  revision: Type.Integer(),
  first_seen_at: Type.String(),
  updated_at: Type.String(),
});

export const CaseView = Type.Object({
  id: Type.String(),
  template: TemplateRef,
  title: Type.String(),
  status: Type.Enum(CASE_STATUSES),
  priority: PriorityView,
  owner_id: Nullable(Type.String()),
  queue: Nullable(Type.String()),
  customer: Type.Unknown(),
  external_refs: Type.Record(Type.String(), Type.String()),
  case_file: Type.Unknown(),
  milestones: Type.Record(Type.String(), Type.String()),
  posts: Type.Array(PostView),
  goals: Type.Array(GoalView),
  fragments: Type.Array(FragmentView),
  tasks: Type.Array(TaskView),
  accepted_events: Type.Array(Type.String()),
  version: Type.Integer(),
  opened_at: Type.String(),
  updated_at: Type.String(),
  closed_at: Nullable(Type.String()),
  close_reason: Nullable(Type.String()),
  held_at: Nullable(Type.String()),
  hold_reason: Nullable(Type.String()),
  handoff_brief: Type.Union([HandoffBriefView, Type.Null()], { description: 'Built at the last reassignment of the case or one of its tasks (README "Handoff brief")' }),
  customer_summary: Type.Optional(CaseCustomerSummary),
  goal_clocks: Type.Optional(
    Type.Record(Type.String(), GoalClockView, { description: 'GET /v1/cases/:id only: per goal key, whether its clock counts business or calendar time and whether it is paused, and why' }),
  ),
});

/** POST /v1/tasks/next and /v1/tasks/:id/assign. */
export const NextWorkView = Type.Object({
  task: Type.Union([TaskView, Type.Null()]),
  reason: Type.Union([Type.Enum(['presence_away', 'presence_offline', 'no_matching_task']), Type.Null()], {
    description: 'Why nothing was assigned (task null)',
  }),
  case_version: Type.Union([Type.Integer(), Type.Null()]),
  handoff_brief: Type.Union([HandoffBriefView, Type.Null()]),
});

/** POST /v1/cases/:id/content: the case after the change, and the item added. */
export const CaseWithContentView = Type.Object({
  ...CaseView.properties,
  content: Type.Object({
    id: Type.String({ description: 'the content item added, or the post updated' }),
    kind: Type.Enum(CONTENT_KINDS),
    added_by: Type.String(),
    added_at: Type.String(),
    updated: Type.Boolean({ description: 'true when a post with this channel and post id / url was already on the case and was updated' }),
    revision: Nullable(Type.Integer({ description: 'the post revision (1 when added)' })),
    analysis: Type.Unknown({ description: 'what Tessera computed: { sentiment: { score, label, model } } for a post with text' }),
  }),
});

export const PriorityOverrideBody = Type.Object(
  { priority: Type.Enum(PRIORITIES), reason: Text(2000) },
  { additionalProperties: false },
);

export const PriorityReleaseBody = Omittable(Type.Object({ reason: Type.Optional(Text(2000)) }, { additionalProperties: false }));

export const ContentItemView = Type.Object({
  id: Type.String(),
  kind: Type.Enum(CONTENT_KINDS),
  data: Type.Unknown({ description: 'what the sender sent (for a post: the latest of every field)' }),
  analysis: Type.Unknown({ description: 'what Tessera computed, e.g. { sentiment: { score, label, model } }; null when nothing' }),
  revision: Type.Integer(),
  added_by: Type.String(),
  added_at: Type.String(),
  updated_at: Nullable(Type.String()),
});

export const ContentRevisionView = Type.Object({
  revision: Type.Integer(),
  data: Type.Unknown({ description: 'what was sent in this version' }),
  analysis: Type.Unknown(),
  at: Type.String(),
  by: Type.String(),
});

export const CaseSummaryView = Type.Object({
  id: Type.String(),
  template: TemplateRef,
  title: Type.String(),
  status: Type.Enum(CASE_STATUSES),
  priority: PriorityView,
  owner_id: Nullable(Type.String()),
  queue: Nullable(Type.String()),
  customer: Type.Unknown(),
  goals: Type.Array(GoalView),
  open_tasks: Type.Integer(),
  version: Type.Integer(),
  opened_at: Type.String(),
  updated_at: Type.String(),
});

export const PageOf = <T extends Parameters<typeof Type.Array>[0]>(item: T) =>
  Type.Object({ items: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) });

export const TimelineEntryView = Type.Object({
  version: Type.Integer(),
  idx: Type.Integer(),
  type: Type.String(),
  actor: Type.Object({ id: Type.String(), role: Type.String() }),
  reason: Nullable(Type.String()),
  data: Type.Unknown(),
  at: Type.String(),
});
