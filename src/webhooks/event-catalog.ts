/**
 * The published catalog of outbound event types, each with a JSON Schema of its `data`.
 * Served at GET /v1/event-types and under OpenAPI `webhooks`; subscriptions name types from it.
 * Every case event carries `caseId`, every customer event (`customer.*`) `customerId` — the
 * CloudEvents `subject` too. Payloads may gain fields
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

function customerPayload(properties: Record<string, unknown>, required: string[] = []) {
  return {
    type: 'object',
    properties: { customerId: { ...str, description: 'The customer the event belongs to' }, ...properties },
    required: ['customerId', ...required],
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
  { type: 'customer.created', description: 'A customer was created (by the API, a case opened for them, or an inbound message).', schema: customerPayload({ segment: str, tier: str }) },
  {
    type: 'customer.updated',
    description: "A customer's profile, metrics, influence, external ids or identities changed.",
    schema: customerPayload({ version: { type: 'integer' }, changed: { type: 'array', items: str } }, ['version', 'changed']),
  },
  { type: 'customer.identity_linked', description: 'An e-mail, phone or handle now belongs to the customer.', schema: customerPayload({ identityId: str, kind: str, channel: str }, ['identityId', 'kind']) },
  { type: 'customer.identity_unlinked', description: 'An identity was taken off the customer.', schema: customerPayload({ identityId: str, kind: str }, ['identityId']) },
  {
    type: 'customer.activity_recorded',
    description: 'Activities (purchases, contacts, logins...) were recorded on the customer.',
    schema: customerPayload({ count: { type: 'integer' }, kinds: { type: 'array', items: str } }, ['count', 'kinds']),
  },
  {
    type: 'customer.merged',
    description: 'Another customer (`from`) was merged into this one (`into`, the survivor); its identities, activity and cases moved.',
    schema: customerPayload({ from: str, into: str }, ['from', 'into']),
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
