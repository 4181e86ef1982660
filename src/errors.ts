/**
 * Every error Tessera answers with: a stable code, an HTTP status, and a title.
 * The problem+json `type` is `https://tessera.dev/problems/<code in kebab-case>`.
 * Messages (the `detail`) say what to change; 5xx details are never sent to clients.
 */
export const ERROR_CODES = {
  // request shape
  VALIDATION_FAILED: { status: 400, title: 'The request does not match the schema' },
  MALFORMED_JSON: { status: 400, title: 'The request body is not valid JSON' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  REQUEST_TIMEOUT: { status: 408, title: 'The request did not arrive in time' },
  HEADERS_TOO_LARGE: { status: 431, title: 'The request headers are too large' },
  BAD_REQUEST: { status: 400, title: 'The request is not valid HTTP' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported content type' },
  // auth
  UNAUTHENTICATED: { status: 401, title: 'Missing or invalid API key' },
  FORBIDDEN: { status: 403, title: 'Your role may not do this' },
  SIGN_IN_FAILED: { status: 401, title: 'Unknown username or wrong password' },
  CSRF_REFUSED: { status: 403, title: 'The request is not from this site or lacks its CSRF token' },
  CURRENT_PASSWORD_WRONG: { status: 403, title: 'The current password does not match' },
  // people
  USER_NOT_FOUND: { status: 404, title: 'User not found' },
  USER_EXISTS: { status: 409, title: 'A user with this id or username exists' },
  USER_DISABLED: { status: 409, title: 'The user is disabled' },
  USER_NOT_DISABLED: { status: 409, title: 'The user is not disabled' },
  INVALID_USER: { status: 422, title: 'A user field is invalid' },
  INVALID_PASSWORD: { status: 422, title: 'The password does not meet the rules' },
  KEY_OWNER_INVALID: { status: 422, title: 'The API key cannot belong to this owner' },
  // lookups
  NOT_FOUND: { status: 404, title: 'Not found' },
  ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  CASE_NOT_FOUND: { status: 404, title: 'Case not found' },
  TASK_NOT_FOUND: { status: 404, title: 'Task not found' },
  TEMPLATE_NOT_FOUND: { status: 404, title: 'Case template not found' },
  FRAGMENT_NOT_FOUND: { status: 404, title: 'Fragment not found' },
  DEFINITION_NOT_FOUND: { status: 422, title: 'Fragment definition not found' },
  GOAL_NOT_FOUND: { status: 404, title: 'Goal not found' },
  HISTORY_NOT_AVAILABLE: { status: 422, title: 'The case history cannot answer for that time or version' },
  STATE_NOT_FOUND: { status: 422, title: 'State does not exist in the fragment definition' },
  // domain rules
  EVENT_NOT_ACCEPTED: { status: 409, title: 'No fragment accepts this event now' },
  CASE_NOT_OPEN: { status: 409, title: 'The case is not open' },
  FRAGMENT_NOT_ACTIVE: { status: 409, title: 'The fragment is not active' },
  TASK_NOT_OPEN: { status: 409, title: 'The task is not open' },
  GOAL_EXISTS: { status: 409, title: 'A goal with this key exists' },
  FRAGMENT_NOT_DISCRETIONARY: { status: 422, title: 'The template does not offer this fragment' },
  INVALID_DEFINITION: { status: 422, title: 'The fragment definition is invalid' },
  INVALID_EXPRESSION: { status: 422, title: 'The expression is invalid' },
  EXPRESSION_LIMIT: { status: 422, title: 'The expression exceeded its evaluation budget' },
  INVALID_TASK_OUTPUT: { status: 422, title: 'The task output does not match its form' },
  INVALID_CASE_FILE: { status: 422, title: 'The case file does not match the template schema' },
  CASE_FILE_WRITE_INVALID: { status: 422, title: 'The command would leave the case file invalid against the template schema' },
  REASON_REQUIRED: { status: 422, title: 'A reason is required' },
  UNMET_REQUIRED_GOALS: { status: 422, title: 'Required goals are not achieved' },
  HOLD_NOT_ALLOWED: { status: 422, title: 'Cases of this template cannot be put on hold' },
  CASE_NOT_ON_HOLD: { status: 409, title: 'The case is not on hold' },
  // people and work
  TASK_ROLE_REQUIRED: { status: 403, title: "The task needs a role the actor does not have" },
  TASK_OWNS_EVENT: { status: 409, title: 'This event belongs to an open task: complete the task instead' },
  TASK_ALREADY_ASSIGNED: { status: 409, title: 'The task is already assigned to a person' },
  CAPACITY_EXCEEDED: { status: 409, title: "The task does not fit the person's free capacity" },
  USER_NOT_AVAILABLE: { status: 409, title: 'The user is away or offline and takes no new work' },
  CONTENT_INVALID: { status: 422, title: 'The content does not match its kind' },
  PRIORITY_NOT_OVERRIDDEN: { status: 409, title: 'The case priority is not overridden' },
  // customers
  CUSTOMER_NOT_FOUND: { status: 404, title: 'Customer not found' },
  CUSTOMER_MERGED: { status: 409, title: 'The customer was merged into another' },
  IDENTITY_CLAIMED: { status: 409, title: 'The identity belongs to another customer' },
  EXTERNAL_ID_CLAIMED: { status: 409, title: 'The external id belongs to another customer' },
  IDENTITY_NOT_FOUND: { status: 404, title: 'Identity not found' },
  INVALID_IDENTITY: { status: 422, title: 'The identity is malformed' },
  INVALID_ACTIVITY: { status: 422, title: 'The activity is malformed' },
  MERGE_NOT_ALLOWED: { status: 422, title: 'These customers cannot be merged' },
  CUSTOMER_VERSION_MISMATCH: { status: 412, title: 'The customer changed since you read it' },
  // outbound webhooks
  WEBHOOK_SUBSCRIPTION_NOT_FOUND: { status: 404, title: 'Webhook subscription not found' },
  WEBHOOK_DELIVERY_NOT_FOUND: { status: 404, title: 'Webhook delivery not found' },
  WEBHOOK_URL_NOT_ALLOWED: { status: 422, title: 'The webhook URL may not be delivered to' },
  INVALID_EVENT_TYPE: { status: 422, title: 'Not an event type a subscription can name' },
  DELIVERY_IN_PROGRESS: { status: 409, title: 'The delivery is still being attempted' },
  REPLAY_RANGE_INVALID: { status: 422, title: 'The replay range is invalid or too large' },
  // concurrency / idempotency
  VERSION_MISMATCH: { status: 412, title: 'The case changed since you read it' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'Idempotency-Key reused with a different request' },
  IDEMPOTENCY_IN_FLIGHT: { status: 409, title: 'A request with this Idempotency-Key is in progress' },
  IDEMPOTENT_REPLAY_UNAVAILABLE: { status: 409, title: 'The first answer to this Idempotency-Key cannot be replayed' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  // inbound webhooks
  WEBHOOK_SIGNATURE_INVALID: { status: 401, title: 'The webhook signature does not verify' },
  SOURCE_NOT_FOUND: { status: 404, title: 'Inbound source not found' },
  INBOX_MESSAGE_NOT_FOUND: { status: 404, title: 'Inbox message not found' },
  SOURCE_EXISTS: { status: 409, title: 'An inbound source with this key exists' },
  SOURCE_DISABLED: { status: 409, title: 'The inbound source is disabled' },
  SECRET_LIMIT: { status: 409, title: 'The source already has two active secrets' },
  INBOX_NOT_RETRYABLE: { status: 409, title: 'The inbox message is not unmatched or failed' },
  INVALID_MAPPING: { status: 422, title: 'The inbound mapping is invalid' },
  MAPPING_LIMIT: { status: 422, title: 'A mapping expression was stopped by its bounds (time, depth, memory or size)' },
  WEBHOOK_ID_REUSED: { status: 422, title: 'webhook-id reused with a different body' },
  // learning loop: template drafts, publishing, recommendations
  DRAFT_NOT_FOUND: { status: 404, title: 'Template draft not found' },
  DRAFT_NOT_EDITABLE: { status: 409, title: 'The template draft is already published or discarded' },
  DRAFT_VERSION_MISMATCH: { status: 412, title: 'The template draft changed since you read it' },
  DRAFT_PRECONDITION_REQUIRED: { status: 428, title: 'Send If-Match with the draft ETag' },
  DRAFT_INVALID: { status: 422, title: 'The template draft does not pass the template checks' },
  TEMPLATE_VERSION_TAKEN: { status: 409, title: 'That template or fragment version is already published' },
  CASE_NOT_RESOLVED: { status: 409, title: 'Only a resolved or closed case can be captured' },
  RECOMMENDATION_NOT_FOUND: { status: 404, title: 'Recommendation not found' },
  // platform
  NOT_READY: { status: 503, title: 'A dependency is not available' },
  UI_NOT_BUILT: { status: 503, title: 'The web UI is not built' },
  DATABASE_UNAVAILABLE: { status: 503, title: 'The database is not available' },
  INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * `Retry-After` (seconds) on a DATABASE_UNAVAILABLE answer: about what a restart or a failover
 * takes; the pool reconnects by itself, so the same request may then succeed.
 */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** Thrown at the edges (HTTP, commands); the error handler turns it into problem+json. */
export class TesseraError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'TesseraError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = details;
  }
}

export function problemType(code: ErrorCode): string {
  return `https://tessera.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`;
}
