/**
 * Database row types (Kysely). Rows stay at the persistence edge: HTTP has its own schemas and
 * the engine works on `CaseState`. jsonb columns are written as JSON strings (pg would turn
 * JS arrays into Postgres array literals).
 */
import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T = unknown> = ColumnType<T, string, string>;
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
  created_at: Generated<Timestamp>;
  revoked_at: Timestamp | null;
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

export interface OutboxTable {
  id: string;
  seq: Generated<string>;
  case_id: string;
  type: string;
  data: Json;
  occurred_at: Timestamp;
  status: Generated<string>;
  created_at: Generated<Timestamp>;
}

export interface ContentTable {
  id: string;
  case_id: string;
  kind: string;
  data: Json;
  added_by: string;
  added_at: Timestamp;
}

export interface IdempotencyKeyTable {
  /** The API key's user id: keys are scoped per caller. */
  owner: string;
  key: string;
  request_hash: string;
  case_id: string | null;
  status_code: number;
  response: Json;
  created_at: Generated<Timestamp>;
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

export interface Database {
  api_keys: ApiKeyTable;
  definitions: DefinitionTable;
  cases: CaseTable;
  tasks: TaskTable;
  journal: JournalTable;
  timers: TimerTable;
  outbox: OutboxTable;
  content: ContentTable;
  idempotency_keys: IdempotencyKeyTable;
  inbound_sources: InboundSourceTable;
  inbox: InboxTable;
  case_keys: CaseKeyTable;
}

export type ApiKeyRow = Selectable<ApiKeyTable>;
export type { Json, Timestamp };
