/** Request and response schemas of the outbound webhook API (subscriptions, deliveries, event types). */
import { Type } from 'typebox';
import { PageQuery } from './schemas.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const Url = Type.String({ minLength: 1, maxLength: 2048, description: 'https URL of the receiver (http is accepted for on-prem receivers)' });
const EventTypes = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  minItems: 1,
  maxItems: 100,
  uniqueItems: true,
  description: 'Types from GET /v1/event-types, fragment event types, or "*" for every type',
});
const Description = Type.String({ maxLength: 500 });

export const CreateSubscriptionBody = Type.Object(
  { url: Url, event_types: EventTypes, description: Type.Optional(Description), enabled: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);

export const UpdateSubscriptionBody = Type.Object(
  {
    url: Type.Optional(Url),
    event_types: Type.Optional(EventTypes),
    description: Type.Optional(Type.Union([Description, Type.Null()], { description: 'null removes the description' })),
    enabled: Type.Optional(Type.Boolean({ description: 'false stops new deliveries (a boolean; null is refused)' })),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const RotateSecretBody = Type.Object(
  {
    expire_previous_in_seconds: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 7 * 86_400, default: 86_400, description: 'How long the old secret keeps signing too (0: stop now)' }),
    ),
  },
  { additionalProperties: false },
);

export const ReplayRangeBody = Type.Object(
  {
    from: Type.String({ format: 'date-time', description: 'Events that occurred at or after this time' }),
    to: Type.String({ format: 'date-time', description: 'and before this time' }),
  },
  { additionalProperties: false },
);

const IdParam = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' });
export const WebhookParams = Type.Object({ id: IdParam }, { additionalProperties: false });

export const DELIVERY_STATUSES = ['pending', 'delivered', 'dead'] as const;

export const SubscriptionListQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });
export const DeliveryListQuery = Type.Object(
  {
    ...PageQuery,
    subscription_id: Type.Optional(IdParam),
    status: Type.Optional(Type.Enum(DELIVERY_STATUSES)),
    event_type: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);

export const SubscriptionView = Type.Object({
  id: Type.String(),
  url: Type.String(),
  event_types: Type.Array(Type.String()),
  description: Nullable(Type.String()),
  enabled: Type.Boolean(),
  created_by: Type.String(),
  created_at: Type.String(),
  updated_at: Type.String(),
  previous_secret_expires_at: Nullable(Type.String()),
});

/** Only at creation and rotation: the signing secret, shown once. */
export const SubscriptionWithSecretView = Type.Object({
  ...SubscriptionView.properties,
  secret: Type.String({ description: 'whsec_... — verify signatures with it (Standard Webhooks); it is not shown again' }),
});

export const DeliveryView = Type.Object({
  id: Type.String({ description: 'The webhook-id header of every attempt' }),
  subscription_id: Type.String(),
  event_id: Type.String({ description: 'The CloudEvents id (the same for every subscription)' }),
  event_type: Type.String(),
  case_id: Nullable(Type.String({ description: "The case of a case's event" })),
  customer_id: Nullable(Type.String({ description: "The customer of a customer's event (customer.*)" })),
  status: Type.Enum(DELIVERY_STATUSES),
  attempt_count: Type.Integer(),
  next_attempt_at: Nullable(Type.String()),
  last_status_code: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  occurred_at: Type.String(),
  created_at: Type.String(),
  delivered_at: Nullable(Type.String()),
});

export const ATTEMPT_OUTCOMES = ['succeeded', 'failed', 'unknown'] as const;

export const AttemptView = Type.Object(
  {
    n: Type.Integer(),
    at: Type.String({ description: 'When the attempt was signed and sent' }),
    url: Type.String(),
    outcome: Type.Enum(ATTEMPT_OUTCOMES, {
      description:
        '`succeeded` (a 2xx), `failed` (another answer, no answer in time, refused before connecting), or `unknown`: ' +
        'the request was sent (or is being sent) and no answer was recorded — the worker may have stopped before it could record one. ' +
        'The delivery is retried after its lease; receivers deduplicate by webhook-id.',
    }),
    address: Nullable(Type.String({ description: 'The IP address connected to; null when nothing was sent' })),
    webhook_timestamp: Nullable(Type.Integer({ description: 'The `webhook-timestamp` header sent (Unix seconds); the `webhook-id` is the delivery id' })),
    body_sha256: Nullable(Type.String({ description: 'Hex SHA-256 of the body bytes sent' })),
    body_bytes: Nullable(Type.Integer({ description: 'Size of the body sent, in bytes' })),
    status_code: Nullable(Type.Integer()),
    error: Nullable(Type.String()),
    response_body: Nullable(Type.String({ description: 'The first 1 KB of the answer' })),
    duration_ms: Nullable(Type.Integer({ description: 'Null while the outcome is unknown' })),
  },
  { description: 'One attempt, logged before it is sent and completed with its outcome' },
);

export const DeliveryDetailView = Type.Object({
  ...DeliveryView.properties,
  event: Type.Unknown({ description: 'The CloudEvent body sent' }),
  attempts: Type.Array(AttemptView),
});

export const EventTypeView = Type.Object({ type: Type.String(), description: Type.String(), schema: Type.Unknown() });

export const ReplayResult = Type.Object({ events: Type.Integer(), deliveries: Type.Integer() });
