/**
 * Database row types (Kysely). Rows stay at the persistence edge: HTTP has its own schemas and
 * the engine works on `CaseState`. jsonb columns are written as JSON strings (pg would turn
 * JS arrays into Postgres array literals).
 */
import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T = unknown> = ColumnType<T, string, string>;
/** A timestamp with a database default. */
type GeneratedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null, Date | string | null>;
/** A timestamp the database defaults on insert (`Generated<Timestamp>` would nest two ColumnTypes). */
type DefaultTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface ApiKeyTable {
  id: string;
  /** First characters of the key, shown in listings so people can tell keys apart. */
  prefix: string;
  /** SHA-256 of the whole key; keys are 32 random bytes, so a fast hash is enough. */
  key_hash: string;
  role: string;
  user_id: string;
  name: string;
  /** Queues the key's agent works (Postgres text[]; pg maps JS arrays to it). */
  teams: ColumnType<string[], string[] | undefined, string[]>;
  created_at: Generated<Timestamp>;
  revoked_at: Timestamp | null;
  /** `user` (user_id names a users row) or `integration` (user_id is the integration's name). */
  owner_kind: ColumnType<'user' | 'integration', 'user' | 'integration' | undefined, 'user' | 'integration'>;
  /** Generated (0021): user_id for a user key, null for an integration; a foreign key to users. */
  user_ref: ColumnType<string | null, never, never>;
}

/** People who sign in (migration 0020). Integrations are not users. */
export interface UserTable {
  id: string;
  username: string;
  display_name: string;
  role: string;
  teams: ColumnType<string[], string[] | undefined, string[]>;
  skills: Json<Record<string, number>>;
  capacity: Json<Record<string, number>>;
  presence: string;
  /** `scrypt$...` (see people/password-hash.ts); null: the user cannot sign in with a password. */
  password_hash: string | null;
  version: number;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  disabled_at: NullableTimestamp;
}

export interface UserJournalTable {
  user_id: string;
  /** The user's version the change produced. */
  version: number;
  type: string;
  actor_id: string;
  actor_role: string;
  reason: string | null;
  data: Json;
  at: Timestamp;
}

/** Browser sessions; the cookie holds a random id, the row its SHA-256. */
export interface SessionTable {
  id_hash: string;
  user_id: string;
  csrf_token: string;
  created_at: Timestamp;
  /** Updated at most once a minute; idle expiry counts from it. */
  last_seen_at: Timestamp;
  /** Absolute expiry. */
  expires_at: Timestamp;
  revoked_at: NullableTimestamp;
  user_agent: string | null;
}

export interface DefinitionTable {
  kind: 'template' | 'fragment';
  key: string;
  version: number;
  /** Canonical JSON hash: a changed file under a stored version is refused. */
  hash: string;
  /** `file`, `api` (inline, authored at runtime) or `checklist`. */
  source: string;
  body: Json;
  created_at: Generated<Timestamp>;
}

export interface CaseTable {
  id: string;
  template_key: string;
  template_version: number;
  title: string;
  status: string;
  priority: string;
  owner_id: string | null;
  queue: string | null;
  customer_id: string | null;
  version: number;
  /** The whole aggregate (`CaseState`); the columns above are copies for filtering. */
  state: Json;
  opened_at: Timestamp;
  updated_at: Timestamp;
  closed_at: Timestamp | null;
  /** Migration 0061: when the case's personal data was erased (privacy/). */
  erased_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface TaskTable {
  id: string;
  case_id: string;
  fragment_id: string;
  title: string;
  status: string;
  role: string | null;
  assignee_id: string | null;
  queue: string | null;
  due_at: Timestamp | null;
  opened_at: Timestamp;
  closed_at: Timestamp | null;
  /** The whole `Task`. */
  body: Json;
  /** Routing (migration 0025): the task's queue, kept while a person holds it. */
  work_queue: string | null;
  skills: Json;
  effort: number;
  kind: string;
  /** low 1, normal 2, high 3, urgent 4 (the case's priority). */
  priority_rank: number;
  /** Earliest deadline of the case's open goals. */
  breach_at: Timestamp | null;
  /** Worst SLA state of the case's open goals. */
  sla: string | null;
}


export interface JournalTable {
  case_id: string;
  /** Case version the command produced; `idx` orders entries within it. */
  version: number;
  idx: number;
  type: string;
  actor_id: string;
  actor_role: string;
  reason: string | null;
  data: Json;
  at: Timestamp;
  /** Change feed order (migration 0030): the writing transaction's id and an insertion sequence; both defaults. */
  tx: Generated<string>;
  seq: Generated<string>;
}

/** Per case version, the command and the inputs it was decided from (migration 0045, cases/command-record.ts). */
export interface JournalCommandTable {
  case_id: string;
  version: number;
  type: string;
  at: Timestamp;
  record: Json;
}

export interface TimerTable {
  id: string;
  case_id: string;
  kind: string;
  fragment_id: string | null;
  goal_key: string | null;
  due_at: Timestamp;
  event: Json | null;
  /** pending -> fired | cancelled */
  status: Generated<string>;
  created_at: Generated<Timestamp>;
  settled_at: Timestamp | null;
}

/** A timer on a customer (migration 0016): the behaviour-deviation trip wire. */
export interface CustomerTimerTable {
  id: string;
  customer_id: string;
  kind: 'deviation';
  template_key: string;
  due_at: Timestamp;
  /** What the trip wire counted from (`ArmedBasis` plus the rule's figures). */
  basis: Json;
  /** pending -> fired | cancelled */
  status: Generated<string>;
  /** Set when fired: `opened`, or why nothing opened (`newer_activity`, `case_open`, ...). */
  outcome: string | null;
  /** The case the firing opened. */
  case_id: string | null;
  created_at: Generated<Timestamp>;
  settled_at: Timestamp | null;
}

/** Cached population latency L_n per series of kinds (migration 0017). */
export interface PopulationLatencyTable {
  kinds: string;
  n: number;
  mean_ms: number;
  customers: number;
  computed_at: GeneratedTimestamp;
}

export interface OutboxTable {
  id: string;
  seq: Generated<string>;
  /** Null for a customer's event (then `customer_id` is set). */
  case_id: string | null;
  customer_id: ColumnType<string | null, string | null | undefined, string | null>;
  type: string;
  data: Json;
  occurred_at: Timestamp;
  /** pending -> dispatched (deliveries exist for every matching subscription) */
  status: Generated<string>;
  created_at: Generated<Timestamp>;
}

export interface WebhookSubscriptionTable {
  id: string;
  url: string;
  event_types: string[];
  /** SecretBox-sealed `whsec_...`; never returned after creation. */
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_expires_at: NullableTimestamp;
  description: string | null;
  enabled: Generated<boolean>;
  created_by: string;
  created_at: GeneratedTimestamp;
  updated_at: GeneratedTimestamp;
}

export interface WebhookDeliveryTable {
  /** `msg_...`: the `webhook-id` header of every attempt. */
  id: string;
  outbox_id: string;
  subscription_id: string;
  event_type: string;
  /** pending -> delivered | dead (a replay makes it pending again) */
  status: Generated<string>;
  attempts: Generated<number>;
  run_attempts: Generated<number>;
  next_attempt_at: NullableTimestamp;
  last_status_code: number | null;
  last_error: string | null;
  created_at: GeneratedTimestamp;
  updated_at: GeneratedTimestamp;
  delivered_at: NullableTimestamp;
}

/**
 * One attempt, written before the request is sent (what is sent) and completed after the answer
 * (`outcome` stays `unknown` when the worker died in between). Attempts refused before
 * connecting have no address, timestamp or body figures.
 */
export interface WebhookDeliveryAttemptTable {
  delivery_id: string;
  n: number;
  /** When it was sent (signed). */
  at: Timestamp;
  url: string;
  /** The IP address connected to (the one the SSRF guard approved). */
  address: string | null;
  /** The `webhook-timestamp` header sent (Unix seconds; int8, so pg reads it as a string). */
  webhook_timestamp: ColumnType<string | number | bigint | null, number | null | undefined, number | null>;
  /** Hex SHA-256 of the body bytes sent, and their count. */
  body_sha256: string | null;
  body_bytes: number | null;
  outcome: 'succeeded' | 'failed' | 'unknown';
  status_code: number | null;
  error: string | null;
  response_body: string | null;
  /** Null while the outcome is unknown. */
  duration_ms: number | null;
}

export interface ContentTable {
  id: string;
  case_id: string;
  kind: string;
  data: Json;
  added_by: string;
  added_at: Timestamp;
  /** What Tessera computed (a post's sentiment with its model id). */
  analysis: Json | null;
  revision: ColumnType<number, number | undefined, number>;
  updated_at: NullableTimestamp;
  updated_by: string | null;
}

/** Every version of a social post (migration 0012). */
export interface ContentRevisionTable {
  content_id: string;
  revision: number;
  case_id: string;
  data: Json;
  analysis: Json | null;
  at: Timestamp;
  by: string;
}

export interface IdempotencyKeyTable {
  /** The API key's user id: keys are scoped per caller. */
  owner: string;
  key: string;
  request_hash: string;
  case_id: string | null;
  status_code: number;
  response: Json;
  /** Headers replayed with the answer (e.g. location); null for case commands. */
  headers: ColumnType<Record<string, string> | null, string | null | undefined, string | null>;
  /** The answer body sealed with the secret box when it carries a one-time secret (`response` is then null). */
  response_sealed: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Generated<Timestamp>;
}

/**
 * One row per (case, goal): the goal views' projection of `cases.state`, kept exact by the
 * command transaction (persistence/goal-views.ts). Never written anywhere else.
 */
export interface GoalViewTable {
  case_id: string;
  goal_key: string;
  goal_title: string;
  case_title: string;
  template_key: string;
  template_version: number;
  queue: string | null;
  owner_id: string | null;
  priority: string;
  case_status: string;
  /** Goal status: open | achieved | cancelled. */
  status: string;
  /** on_track | at_risk | breached; null without a deadline. */
  sla: string | null;
  required: boolean;
  ad_hoc: boolean;
  deadline_at: Timestamp | null;
  at_risk_at: Timestamp | null;
  /** When the breach point fired while the goal was open (`deadlineReachedAt`). */
  breached_at: Timestamp | null;
  achieved_at: Timestamp | null;
  achieved_late: boolean;
  /** The case's. */
  opened_at: Timestamp;
  /** The case's `updatedAt` at the last write of this row. */
  updated_at: Timestamp;
}

export interface InboundSourceTable {
  key: string;
  description: string | null;
  /** `StoredSecret[]` (inbound/source-secrets.ts): sealed with the deployment key. */
  secrets: Json;
  /** The validated mapping (inbound/mapping.ts). */
  mapping: Json;
  enabled: Generated<boolean>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

export interface InboxTable {
  id: string;
  /** Receipt order (bigserial; pg returns it as a string). */
  seq: Generated<string>;
  source: string;
  webhook_id: string;
  body_hash: string;
  payload: Json;
  sent_at: Timestamp;
  received_at: DefaultTimestamp;
  correlation_key: string | null;
  /** received -> applied | unmatched | failed */
  status: string;
  attempts: Generated<number>;
  case_id: string | null;
  result: Json | null;
  error: Json | null;
  applied_at: Timestamp | null;
}

/** Filled by a trigger on case insert (migration 0005): external references and customer handles. */
export interface CaseKeyTable {
  kind: string;
  value: string;
  case_id: string;
}

/** The customer aggregate (src/customers/); the columns beside `state` are copies for filters. */
export interface CustomerTable {
  id: string;
  status: string;
  merged_into: string | null;
  name: string | null;
  segment: string | null;
  tier: string | null;
  lifetime_value: number | null;
  referral_value: number | null;
  churn_risk: number | null;
  last_activity_at: Timestamp | null;
  last_contact_at: Timestamp | null;
  version: number;
  /** The whole `CustomerState`. */
  state: Json;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** One identity, normalised; unique on (kind, channel, value): one identity, one customer. */
export interface CustomerIdentityTable {
  id: string;
  customer_id: string;
  kind: string;
  /** '' for e-mails and phones. */
  channel: string;
  value: string;
  added_at: Timestamp;
}

export interface CustomerExternalIdTable {
  system: string;
  external_id: string;
  customer_id: string;
}

export interface CustomerActivityTable {
  id: string;
  customer_id: string;
  kind: string;
  at: Timestamp;
  amount: number | null;
  ref: string | null;
  channel: string | null;
  data: Json;
  recorded_at: Timestamp;
  recorded_by: string;
}

export interface CustomerJournalTable {
  customer_id: string;
  version: number;
  idx: number;
  type: string;
  actor_id: string;
  actor_role: string;
  reason: string | null;
  data: Json;
  at: Timestamp;
}

/** Cutpoints of the customer values (migration 0011), for cheap percentiles. */
export interface CustomerValueQuantileTable {
  metric: string;
  population: number;
  /** 1,001 numbers: the values at 0 %, 0.1 %, ... 100 %. */
  cutpoints: number[];
  computed_at: Timestamp;
}

/** One erasure run (migration 0061, privacy/erase-personal-data.ts). */
export interface ErasureTable {
  id: string;
  trigger: 'request' | 'retention';
  customer_id: string | null;
  case_ids: ColumnType<string[], string[] | undefined, string[]>;
  basis: string;
  reason: string;
  requested_by: string;
  status: ColumnType<string, string | undefined, string>;
  steps_done: ColumnType<string[], string[] | undefined, string[]>;
  counts: ColumnType<Record<string, number>, string | undefined, string>;
  created_at: DefaultTimestamp;
  finished_at: NullableTimestamp;
}

export interface Database {
  erasures: ErasureTable;
  api_keys: ApiKeyTable;
  users: UserTable;
  user_journal: UserJournalTable;
  sessions: SessionTable;
  definitions: DefinitionTable;
  cases: CaseTable;
  tasks: TaskTable;
  journal: JournalTable;
  journal_commands: JournalCommandTable;
  timers: TimerTable;
  customer_timers: CustomerTimerTable;
  population_latency: PopulationLatencyTable;
  outbox: OutboxTable;
  content: ContentTable;
  content_revisions: ContentRevisionTable;
  idempotency_keys: IdempotencyKeyTable;
  goal_views: GoalViewTable;
  webhook_subscriptions: WebhookSubscriptionTable;
  webhook_deliveries: WebhookDeliveryTable;
  webhook_delivery_attempts: WebhookDeliveryAttemptTable;
  inbound_sources: InboundSourceTable;
  inbox: InboxTable;
  case_keys: CaseKeyTable;
  customers: CustomerTable;
  customer_identities: CustomerIdentityTable;
  customer_external_ids: CustomerExternalIdTable;
  customer_activity: CustomerActivityTable;
  customer_journal: CustomerJournalTable;
  customer_value_quantiles: CustomerValueQuantileTable;
  catalog_revision: CatalogRevisionTable;
  template_drafts: TemplateDraftTable;
  learning_cases: LearningCaseTable;
  learning_additions: LearningAdditionTable;
  recommendation_feedback: RecommendationFeedbackTable;
}

/** One row (id 1): bumped by every runtime publish (migration 0050). */
export interface CatalogRevisionTable {
  id: number;
  /** bigint: pg returns it as a string. */
  revision: ColumnType<string, string | number, string | number>;
  updated_at: DefaultTimestamp;
}

export interface TemplateDraftTable {
  id: string;
  template_key: string;
  base_version: number;
  from_case_id: string | null;
  status: 'draft' | 'published' | 'discarded';
  revision: number;
  /** `{ template, fragments }` (templates/template-draft.ts). */
  body: Json;
  created_by: string;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  published_version: number | null;
  published_by: string | null;
  published_at: NullableTimestamp;
}

export interface LearningCaseTable {
  case_id: string;
  template_key: string;
  template_version: number;
  /** Situation items (`channel=twitter`, `ran:verify-identity`), see learning/situation.ts. */
  items: ColumnType<string[], string[], string[]>;
  on_time: boolean;
  resolved_at: Timestamp;
  indexed_at: DefaultTimestamp;
}

export interface LearningAdditionTable {
  case_id: string;
  position: number;
  fragment_ref: string;
  fragment_key: string;
  added_at: Timestamp;
}

export interface RecommendationFeedbackTable {
  id: string;
  case_id: string;
  fragment_ref: string;
  decision: 'accepted' | 'dismissed';
  case_version: number;
  rank: number;
  actor_id: string;
  reason: string | null;
  at: DefaultTimestamp;
}

export type ApiKeyRow = Selectable<ApiKeyTable>;
export type { Json, Timestamp };
