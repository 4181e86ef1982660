/**
 * The published catalog of outbound event types, each with a JSON Schema of its `data`.
 * Served at GET /v1/event-types and under OpenAPI `webhooks`; subscriptions name types from it.
 * Every payload carries `caseId` (the CloudEvents `subject` too). Payloads may gain fields
 * (additive changes); receivers should ignore fields they do not know.
 *
 * Fragments also publish their own types through the `emit` action (any name outside the core
 * namespaces below, e.g. `refund.approved`); a subscription may name those freely.
 */
const str = { type: 'string' } as const;
const time = { type: 'string', format: 'date-time' } as const;
const assignment = {
  type: 'object',
  properties: { userId: str, queue: str },
  description: 'A person or a queue',
} as const;

function payload(properties: Record<string, unknown>, required: string[] = []) {
  return {
    type: 'object',
    properties: { caseId: { ...str, description: 'The case the event belongs to' }, ...properties },
    required: ['caseId', ...required],
    additionalProperties: true,
  };
}

export interface EventTypeInfo {
  type: string;
  description: string;
  schema: Record<string, unknown>;
}

export const EVENT_TYPES: readonly EventTypeInfo[] = [
  {
    type: 'case.opened',
    description: 'A case was opened from a template.',
    schema: payload(
      { template: { type: 'object', properties: { key: str, version: { type: 'integer' } } }, title: str, priority: str },
      ['template', 'title', 'priority'],
    ),
  },
  { type: 'case.resolved', description: 'Every required goal is achieved.', schema: payload({ goals: { type: 'array', items: str } }, ['goals']) },
  { type: 'case.closed', description: 'The case was closed or cancelled.', schema: payload({ status: { enum: ['closed', 'cancelled'] }, reason: str }, ['status']) },
  { type: 'case.reassigned', description: 'The case owner or queue changed.', schema: payload({ ownerId: str, queue: str }) },
  { type: 'case.held', description: 'The case was put on hold; goal clocks stop.', schema: payload({ reason: str }, ['reason']) },
  {
    type: 'case.resumed',
    description: 'The case left hold; open deadlines moved by the time held.',
    schema: payload(
      { heldMs: { type: 'integer' }, deadlines: { type: 'array', items: { type: 'object', properties: { goalKey: str, deadlineAt: time } } } },
      ['heldMs'],
    ),
  },
  { type: 'goal.added', description: 'An ad-hoc goal was added.', schema: payload({ goalKey: str, title: str }, ['goalKey']) },
  { type: 'goal.updated', description: 'A goal changed (title or deadline).', schema: payload({ goalKey: str, deadlineAt: time }, ['goalKey']) },
  { type: 'goal.achieved', description: "A goal's condition holds.", schema: payload({ goalKey: str, title: str, achievedLate: { type: 'boolean' } }, ['goalKey']) },
  ...(['goal.at_risk', 'goal.breached'] as const).map((type) => ({
    type,
    description: type === 'goal.at_risk' ? 'A goal reached its warning point before the deadline.' : 'A goal missed its deadline.',
    schema: payload(
      { goalKey: str, title: str, deadlineAt: { type: ['string', 'null'], format: 'date-time' }, point: { enum: ['warning', 'breach'] }, role: str, queue: str },
      ['goalKey', 'point'],
    ),
  })),
  {
    type: 'task.assigned',
    description: 'A task was opened, claimed or reassigned.',
    schema: payload({ taskId: str, fragmentId: str, title: str, assignment }, ['taskId', 'fragmentId']),
  },
  { type: 'task.completed', description: 'A task was completed.', schema: payload({ taskId: str, fragmentId: str, completedBy: str }, ['taskId']) },
  {
    type: 'fragment.completed',
    description: 'A process fragment reached its final state.',
    schema: payload({ fragmentId: str, definition: str, title: str }, ['fragmentId']),
  },
  { type: 'fragment.cancelled', description: 'A process fragment was cancelled.', schema: payload({ fragmentId: str, definition: str }, ['fragmentId']) },
  { type: 'milestone.reached', description: 'A fragment set a milestone.', schema: payload({ fragmentId: str, milestone: str }, ['milestone']) },
  { type: 'content.added', description: 'A note, attachment, social post or CRM profile was attached.', schema: payload({ contentId: str, kind: str }, ['contentId', 'kind']) },
  {
    type: 'content.updated',
    description: 'A social post already on the case was sent again (same channel and post id / url): new figures, a new revision.',
    schema: payload({ contentId: str, kind: str, revision: { type: 'integer' } }, ['contentId', 'kind', 'revision']),
  },
  {
    type: 'case.priority_changed',
    description: 'The effective priority changed: the score moved (content, customer metrics), an escalation raised it, or a supervisor overrode or released it.',
    schema: payload(
      { from: { enum: ['low', 'normal', 'high', 'urgent'] }, to: { enum: ['low', 'normal', 'high', 'urgent'] }, score: { type: 'number' }, trigger: str },
      ['from', 'to'],
    ),
  },
  {
    type: 'case.escalated',
    description: "A linked post's reach or virality crossed a template escalation threshold (once per threshold per case).",
    schema: payload(
      {
        threshold: { ...str, description: 'e.g. reach>=10000, virality>=50' },
        metric: { enum: ['reach', 'virality'] },
        limit: { type: 'number' },
        value: { type: 'number', description: 'reach, or engagements per hour' },
        contentId: str,
        priority: { enum: ['low', 'normal', 'high', 'urgent'] },
        notify: { type: 'array', items: { type: 'object', properties: { role: str, queue: str } } },
      },
      ['threshold', 'metric', 'value', 'priority'],
    ),
  },
];

const KNOWN = new Set(EVENT_TYPES.map((e) => e.type));
/** Namespaces the engine owns: a name in them must be a catalog type (typos are refused). */
const CORE_NAMESPACES = new Set(EVENT_TYPES.map((e) => e.type.split('.')[0]!));
const CUSTOM_TYPE = /^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)+$/;

/** Undefined when a subscription may name `type`; otherwise what is wrong with it. */
export function eventTypeProblem(type: string): string | undefined {
  if (type === '*' || KNOWN.has(type)) return undefined;
  if (CORE_NAMESPACES.has(type.split('.')[0]!)) {
    return `"${type}" is not a published event type; see GET /v1/event-types (or use "*" for every type)`;
  }
  if (!CUSTOM_TYPE.test(type)) {
    return `"${type}" is not an event type name; fragment events look like "refund.approved"`;
  }
  return undefined;
}
