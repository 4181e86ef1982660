/** Request and response schemas of the supervisor views (GET /v1/goals, /v1/goals/due, /v1/reports/sla-attainment). */
import { Type } from 'typebox';
import { GOAL_SLA_STATES } from '../cases/types.js';

const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\s]+$' });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const GOAL_PAGE_MAX = 100;

const GoalFilters = {
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: GOAL_PAGE_MAX, default: 25, description: `Page size, 1 to ${GOAL_PAGE_MAX}; follow next_cursor for more.` }),
  ),
  cursor: Type.Optional(Type.String({ maxLength: 500, description: 'next_cursor of the previous page.' })),
  sla: Type.Optional(
    Type.Array(Type.Enum(GOAL_SLA_STATES), {
      maxItems: 3,
      description: 'SLA states to include (repeat the parameter for several, e.g. sla=at_risk&sla=breached); all when absent.',
    }),
  ),
  status: Type.Optional(
    Type.Array(Type.Union([Type.Literal('open'), Type.Literal('on_hold')]), {
      maxItems: 2,
      description: 'Case status: open and/or on_hold (goal clocks stopped); both when absent.',
    }),
  ),
  template: Type.Optional(Name),
  queue: Type.Optional(Name),
  owner: Type.Optional(Name),
};

export const GoalListQuery = Type.Object(GoalFilters, { additionalProperties: false });

export const DueGoalsQuery = Type.Object(
  {
    ...GoalFilters,
    within_hours: Type.Integer({ minimum: 1, maximum: 720, description: 'Deadlines from now to now + N hours (1 to 720, i.e. 30 days).' }),
  },
  { additionalProperties: false },
);

export const OpenGoalView = Type.Object({
  case_id: Type.String(),
  case_title: Type.String(),
  template: Type.Object({ key: Type.String(), version: Type.Integer() }),
  queue: Nullable(Type.String()),
  owner_id: Nullable(Type.String()),
  priority: Type.String(),
  case_status: Type.String(),
  goal_key: Type.String(),
  goal_title: Type.String(),
  required: Type.Boolean(),
  ad_hoc: Type.Boolean(),
  status: Type.String(),
  sla: Nullable(Type.String()),
  deadline_at: Type.String(),
  at_risk_at: Nullable(Type.String()),
  breached_at: Nullable(Type.String()),
  opened_at: Type.String(),
  updated_at: Type.String(),
});

export const MAX_REPORT_DAYS = 366;

export const AttainmentQuery = Type.Object(
  {
    from: Type.String({ format: 'date-time', description: 'Start of the period (inclusive), RFC 3339.' }),
    to: Type.String({ format: 'date-time', description: `End of the period (exclusive), after from, at most ${MAX_REPORT_DAYS} days later.` }),
    group_by: Type.Optional(Type.Union([Type.Literal('template'), Type.Literal('queue')], { default: 'template' })),
    template: Type.Optional(Name),
    queue: Type.Optional(Name),
  },
  { additionalProperties: false },
);

const Counts = {
  due: Type.Integer({ description: 'Goals whose SLA outcome fell in the period: achieved (on time or late) or deadline passed unachieved.' }),
  achieved_on_time: Type.Integer(),
  achieved_late: Type.Integer(),
  breached_open: Type.Integer({ description: 'Still open, deadline passed.' }),
  pending: Type.Integer({ description: 'Still open, deadline in the period but not yet reached; not in due.' }),
  attainment: Type.Union([Type.Number(), Type.Null()], { description: 'achieved_on_time / due, 0..1; null when nothing was due.' }),
};

export const AttainmentReport = Type.Object({
  from: Type.String(),
  to: Type.String(),
  group_by: Type.String(),
  generated_at: Type.String(),
  groups: Type.Array(Type.Object({ key: Nullable(Type.String()), ...Counts })),
  total: Type.Object(Counts),
});
