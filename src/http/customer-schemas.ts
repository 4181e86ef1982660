/** Request and response schemas of /v1/customers (TypeBox -> validation, serialization, OpenAPI). snake_case on the wire. */
import { Type } from 'typebox';
import { ACTIVITY_KINDS, IDENTITY_KINDS } from '../customers/types.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './paging.js';

// Not imported from schemas.ts, which imports this file (the case view's customer summary).
const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE, description: `page size, at most ${MAX_PAGE_SIZE}` })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'next_cursor of the previous page, unchanged' })),
};

const Id = Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\s]+$' });
const Text = (max = 500) => Type.String({ minLength: 1, maxLength: max });
const Time = Type.String({ format: 'date-time', description: 'RFC 3339' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const System = Type.String({ minLength: 1, maxLength: 50, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' });
const Channel = Type.String({ minLength: 1, maxLength: 40, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' });
const Reason = Type.Optional(Text(2000));

export const CustomerParams = Type.Object({ id: Id });
export const IdentityParams = Type.Object({ id: Id, identityId: Id });

export const IdentityBody = Type.Object(
  {
    kind: Type.Enum(IDENTITY_KINDS),
    channel: Type.Optional(Channel),
    value: Text(320),
    reason: Reason,
  },
  { additionalProperties: false, description: 'An e-mail, a phone number, or a handle on a channel (stored normalised)' },
);
const IdentityItem = Type.Object({ kind: Type.Enum(IDENTITY_KINDS), channel: Type.Optional(Channel), value: Text(320) }, { additionalProperties: false });

const MetricBody = Type.Object(
  { value: Type.Number(), as_of: Time, source: Text(100) },
  { additionalProperties: false, description: 'A CRM metric with when it was computed and by what' },
);
const InfluenceBody = Type.Object(
  { followers: Type.Optional(Type.Integer({ minimum: 0 })), reach: Type.Optional(Type.Integer({ minimum: 0 })), as_of: Time },
  { additionalProperties: false },
);
const Metrics = (nullable: boolean) =>
  Type.Object(
    Object.fromEntries(['lifetime_value', 'referral_value', 'churn_risk'].map((k) => [k, Type.Optional(nullable ? Nullable(MetricBody) : MetricBody)])),
    { additionalProperties: false },
  );
const ExternalIds = (nullable: boolean) =>
  Type.Record(System, nullable ? Nullable(Text(200)) : Text(200), { maxProperties: 20, description: '{ system: id } in other systems (CRM, shop...)' });
const InfluenceMap = (nullable: boolean) => Type.Record(Channel, nullable ? Nullable(InfluenceBody) : InfluenceBody, { maxProperties: 20 });

export const CreateCustomerBody = Type.Object(
  {
    name: Type.Optional(Text(200)),
    segment: Type.Optional(Text(100)),
    tier: Type.Optional(Text(100)),
    locale: Type.Optional(Type.String({ minLength: 2, maxLength: 35 })),
    external_ids: Type.Optional(ExternalIds(false)),
    identities: Type.Optional(Type.Array(IdentityItem, { maxItems: 50 })),
    metrics: Type.Optional(Metrics(false)),
    influence: Type.Optional(InfluenceMap(false)),
    reason: Reason,
  },
  { additionalProperties: false },
);

export const PatchCustomerBody = Type.Object(
  {
    name: Type.Optional(Nullable(Text(200))),
    segment: Type.Optional(Nullable(Text(100))),
    tier: Type.Optional(Nullable(Text(100))),
    locale: Type.Optional(Nullable(Type.String({ minLength: 2, maxLength: 35 }))),
    external_ids: Type.Optional(ExternalIds(true)),
    metrics: Type.Optional(Metrics(true)),
    influence: Type.Optional(InfluenceMap(true)),
    reason: Reason,
  },
  { additionalProperties: false, minProperties: 1 },
);

/**
 * Loosely typed on purpose: the kind, the time and the amount are checked by the customer
 * aggregate, which answers 422 INVALID_ACTIVITY naming each bad field.
 */
const ActivityItem = Type.Object(
  {
    kind: Type.String({ maxLength: 50, description: `one of ${ACTIVITY_KINDS.join(', ')}` }),
    at: Type.String({ maxLength: 64, description: 'RFC 3339, not in the future (5 minutes of clock skew allowed)' }),
    amount: Type.Optional(Type.Unknown({ description: 'a finite number (e.g. order value)' })),
    ref: Type.Optional(Text(200)),
    channel: Type.Optional(Channel),
    data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);
export const ActivityBody = Type.Union([
  Type.Object({ activities: Type.Array(ActivityItem, { minItems: 1, maxItems: 500 }), reason: Reason }, { additionalProperties: false }),
  ActivityItem,
]);

export const MergeBody = Type.Object(
  { from: Id, reason: Text(2000) },
  { additionalProperties: false, description: '`from` is merged into this customer, which survives' },
);

export const CustomerListQuery = Type.Object(
  {
    ...PageQuery,
    email: Type.Optional(Text(320)),
    phone: Type.Optional(Text(40)),
    handle: Type.Optional(Text(200)),
    channel: Type.Optional(Channel),
    external_system: Type.Optional(System),
    external_id: Type.Optional(Text(200)),
    segment: Type.Optional(Text(100)),
    tier: Type.Optional(Text(100)),
    status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('merged')])),
  },
  { additionalProperties: false },
);

const MetricView = Nullable(Type.Object({ value: Type.Number(), as_of: Type.String(), source: Type.String() }));

export const CustomerView = Type.Object({
  id: Type.String(),
  status: Type.Union([Type.Literal('active'), Type.Literal('merged')]),
  merged_into: Nullable(Type.String()),
  merged_from: Type.Array(Type.String()),
  name: Nullable(Type.String()),
  segment: Nullable(Type.String()),
  tier: Nullable(Type.String()),
  locale: Nullable(Type.String()),
  external_ids: Type.Record(Type.String(), Type.String()),
  identities: Type.Array(Type.Object({ id: Type.String(), kind: Type.String(), channel: Nullable(Type.String()), value: Type.String(), added_at: Type.String() })),
  metrics: Type.Object({ lifetime_value: MetricView, referral_value: MetricView, churn_risk: MetricView }),
  influence: Type.Record(Type.String(), Type.Object({ followers: Nullable(Type.Integer()), reach: Nullable(Type.Integer()), as_of: Type.String() })),
  activity_summary: Type.Object({
    counts: Type.Record(Type.String(), Type.Integer()),
    last: Type.Record(Type.String(), Type.String()),
  }),
  version: Type.Integer(),
  created_at: Type.String(),
  updated_at: Type.String(),
});

const CaseBrief = Type.Object({
  id: Type.String(),
  template: Type.Object({ key: Type.String(), version: Type.Integer() }),
  title: Type.String(),
  status: Type.String(),
  priority: Type.String(),
  owner_id: Nullable(Type.String()),
  queue: Nullable(Type.String()),
  opened_at: Type.String(),
  closed_at: Nullable(Type.String()),
  priority_score: Type.Unknown({ description: 'The priority score 0..100 (null for a case scored before priorities existed)' }),
  priority_factors: Type.Unknown({ description: "The priority's factors (name, value, weight, contribution, explanation); null when the case has none" }),
});

const ActivityView = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  at: Type.String(),
  amount: Nullable(Type.Number()),
  ref: Nullable(Type.String()),
  channel: Nullable(Type.String()),
  data: Type.Record(Type.String(), Type.Unknown()),
  recorded_at: Type.String(),
  recorded_by: Type.String(),
});

export const Customer360View = Type.Object({
  ...CustomerView.properties,
  value_percentiles: Nullable(Type.Object({ clv: Type.Number(), crv: Type.Number() }, { description: 'Share of active customers below this one, 0..1' })),
  last_contact_at: Nullable(Type.String()),
  cases: Type.Object({ open: Type.Array(CaseBrief), recent: Type.Array(CaseBrief) }),
  posts: Type.Array(
    Type.Object({ id: Type.String(), case_id: Type.String(), data: Type.Record(Type.String(), Type.Unknown()), added_by: Type.String(), added_at: Type.String() }),
    { description: 'social_post content on the customer’s cases, newest first, as stored (sentiment where computed)' },
  ),
  activity: Type.Array(ActivityView, { description: 'newest first, at most 50' }),
});

export const CustomerMergeView = Type.Object({
  survivor: CustomerView,
  merged: CustomerView,
  moved_cases: Type.Array(Type.String()),
});

/** The summary of the case's customer in GET /v1/cases/:id. */
export const CaseCustomerSummary = Nullable(
  Type.Object({
    id: Type.String(),
    status: Type.String(),
    merged_into: Nullable(Type.String()),
    name: Nullable(Type.String()),
    segment: Nullable(Type.String()),
    tier: Nullable(Type.String()),
    clv: Nullable(Type.Number()),
    crv: Nullable(Type.Number()),
    churn_risk: Nullable(Type.Number()),
    value_percentiles: Nullable(Type.Object({ clv: Type.Number(), crv: Type.Number() })),
    last_contact_at: Nullable(Type.String()),
  }),
);
