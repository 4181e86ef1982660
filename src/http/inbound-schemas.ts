/** Request and response schemas of inbound webhooks, their sources and the inbox. */
import { Type, type Static } from 'typebox';
import { PageQuery } from './schemas.js';
import { CONTENT_KINDS } from '../cases/types.js';
import { CORRELATE_BY } from '../inbound/mapping.js';
import { INTAKE_KINDS } from '../inbound/intake-event.js';
import { INBOX_STATUSES } from '../persistence/inbox-store.js';

const Expression = (description: string) => Type.String({ minLength: 1, maxLength: 2000, description: `JSONata: ${description}` });

export const SourceKey = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', description: 'lowercase letters, digits, - and _' });

export const MappingRuleSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    when: Type.Optional(Expression('the rule applies when this is true')),
    correlate: Type.Optional(
      Type.Object(
        {
          by: Type.Enum(CORRELATE_BY),
          ref: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'external reference name (by: external_ref)' })),
          value: Expression('the key value (a string or number); a payload without it skips the rule'),
        },
        { additionalProperties: false, description: 'case rules: which key finds the existing case (not with intake)' },
      ),
    ),
    intake: Type.Optional(
      Type.Object(
        {
          kind: Type.Enum(INTAKE_KINDS),
          type: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z][\\w.-]*$', description: 'event type the template intake rules match (eventType)' }),
          customer: Expression('an object {channel, handle, email, external_id, name}: who the event is about; a payload without an identity skips the rule'),
          data: Type.Optional(Expression('an object, the content data (for social_post: channel, author_handle, url, text, posted_at, followers, engagements, reach, sentiment)')),
          external_refs: Type.Optional(Expression('an object of string values, e.g. { "post_id": id }: threading keys')),
        },
        { additionalProperties: false, description: 'normalise the payload into an intake event; the templates\' intake rules decide what it does' },
      ),
    ),
    event: Type.Optional(
      Type.Object(
        {
          type: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z][\\w.-]*$', description: 'event type sent to the case fragments' }),
          data: Type.Optional(Expression('an object, the event data')),
        },
        { additionalProperties: false },
      ),
    ),
    attach: Type.Optional(
      Type.Object({ kind: Type.Enum(CONTENT_KINDS), data: Expression('an object, the content') }, { additionalProperties: false }),
    ),
    open_case: Type.Optional(
      Type.Unknown({ deprecated: true, description: 'removed: refused with a message; decide in a template intake rule and normalise with intake' }),
    ),
  },
  { additionalProperties: false },
);

export const MappingSchema = Type.Object(
  { rules: Type.Array(MappingRuleSchema, { maxItems: 50, description: 'first rule that applies decides' }) },
  { additionalProperties: false },
);

export const CreateSourceBody = Type.Object(
  {
    key: SourceKey,
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    mapping: MappingSchema,
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const UpdateSourceBody = Type.Object(
  {
    description: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()], { description: 'null removes the description' })),
    mapping: Type.Optional(MappingSchema),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const RotateSecretBody = Type.Object(
  {
    previous_expire_in_seconds: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 7 * 24 * 3600, description: 'the secrets in use stop verifying this long from now (default: when removed)' }),
    ),
  },
  { additionalProperties: false },
);

export const SecretView = Type.Object({ id: Type.String(), created_at: Type.String(), expires_at: Type.Union([Type.String(), Type.Null()]), active: Type.Boolean() });
export const NewSecretView = Type.Object({ id: Type.String(), secret: Type.String({ description: 'whsec_...: shown once' }), created_at: Type.String() });

export const SourceView = Type.Object({
  key: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  enabled: Type.Boolean(),
  url: Type.String({ description: 'where senders POST' }),
  secrets: Type.Array(SecretView),
  mapping: MappingSchema,
  created_at: Type.String(),
  updated_at: Type.String(),
});

export const SourceWithSecretView = Type.Object({ source: SourceView, secret: NewSecretView });

export const SourceParams = Type.Object({ key: SourceKey });
export const SecretParams = Type.Object({ key: SourceKey, secret_id: Type.String({ minLength: 1, maxLength: 100 }) });
export const WebhookParams = Type.Object({ source: SourceKey });

export const AcceptedView = Type.Object({
  id: Type.String({ description: 'inbox message id: GET /v1/inbox/:id' }),
  status: Type.Union([Type.Literal('received'), Type.Literal('unmatched'), Type.Literal('failed')], {
    description: 'failed: the mapping failed or hit a bound on this message (see GET /v1/inbox/:id); kept and retryable',
  }),
});

export const InboxMessageView = Type.Object({
  id: Type.String(),
  seq: Type.String({ description: 'receipt order' }),
  source: Type.String(),
  webhook_id: Type.String(),
  status: Type.Enum(INBOX_STATUSES),
  payload: Type.Unknown(),
  correlation_key: Type.Union([Type.String(), Type.Null()]),
  case_id: Type.Union([Type.String(), Type.Null()]),
  result: Type.Unknown(),
  error: Type.Unknown(),
  sent_at: Type.String(),
  received_at: Type.String(),
  applied_at: Type.Union([Type.String(), Type.Null()]),
  attempts: Type.Integer(),
});

export const InboxListQuery = Type.Object(
  {
    source: Type.Optional(SourceKey),
    status: Type.Optional(Type.Enum(INBOX_STATUSES)),
    ...PageQuery,
  },
  { additionalProperties: false },
);

export const InboxParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

export type MappingBody = Static<typeof MappingSchema>;
