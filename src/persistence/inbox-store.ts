/**
 * The inbox: every accepted inbound message, durably, before anything is applied. Receipt order
 * is `seq`; for one correlation key it is also commit order, because the insert takes a
 * transaction-scoped advisory lock on (source, key) before `seq` is drawn — so when a worker
 * applies a row, every earlier row of its key is already visible.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

export const INBOX_STATUSES = ['received', 'applied', 'unmatched', 'failed'] as const;
export type InboxStatus = (typeof INBOX_STATUSES)[number];

export interface InboxMessage {
  id: string;
  seq: string;
  source: string;
  webhookId: string;
  payload: unknown;
  sentAt: Date;
  receivedAt: Date;
  correlationKey: string | null;
  status: InboxStatus;
  attempts: number;
  caseId: string | null;
  result: unknown;
  error: unknown;
  appliedAt: Date | null;
}

export interface NewInboxMessage {
  id: string;
  source: string;
  webhookId: string;
  bodyHash: string;
  /** Parsed JSON, written as jsonb. */
  payload: unknown;
  sentAt: Date;
  /** Null when no rule matched at accept: the row is stored `unmatched` and not queued. */
  correlationKey: string | null;
  /** The mapping failed on this message at accept: the row is stored `failed` with this error, not queued. */
  failure?: unknown;
}

export type AcceptResult =
  | { inserted: true; id: string; status: InboxStatus }
  /** The same (source, webhook-id) was accepted before: its id and the status it was accepted with. */
  | { inserted: false; id: string; status: InboxStatus; sameBody: boolean };

type Row = {
  id: string;
  seq: string;
  source: string;
  webhook_id: string;
  payload: unknown;
  sent_at: Date | string;
  received_at: Date | string;
  correlation_key: string | null;
  status: string;
  attempts: number;
  case_id: string | null;
  result: unknown;
  error: unknown;
  applied_at: Date | string | null;
};

function toMessage(r: Row): InboxMessage {
  return {
    id: r.id,
    seq: String(r.seq),
    source: r.source,
    webhookId: r.webhook_id,
    payload: r.payload,
    sentAt: new Date(r.sent_at),
    receivedAt: new Date(r.received_at),
    correlationKey: r.correlation_key,
    status: r.status as InboxStatus,
    attempts: r.attempts,
    caseId: r.case_id,
    result: r.result,
    error: r.error,
    appliedAt: r.applied_at === null ? null : new Date(r.applied_at),
  };
}

const COLUMNS = ['id', 'seq', 'source', 'webhook_id', 'payload', 'sent_at', 'received_at', 'correlation_key', 'status', 'attempts', 'case_id', 'result', 'error', 'applied_at'] as const;

/** The status a row was accepted with: matched rows wait to be applied, the others are kept unmatched (or failed). */
const acceptedStatus = (correlationKey: string | null, failed = false): InboxStatus => (failed ? 'failed' : correlationKey === null ? 'unmatched' : 'received');

/** Stores a message once per (source, webhook-id); a repeat returns the first row. One statement. */
export async function acceptInboxMessage(db: Kysely<Database>, m: NewInboxMessage): Promise<AcceptResult> {
  const failed = m.failure !== undefined;
  if (failed && m.correlationKey !== null) throw new Error('a failed message has no correlation key');
  const status = acceptedStatus(m.correlationKey, failed);
  // Unmatched rows are not applied, so they need no order (and no lock).
  const lock = m.correlationKey === null ? sql`select 1` : sql`select pg_advisory_xact_lock(hashtext(${m.source}), hashtext(${m.correlationKey}))`;
  const inserted = await sql<{ id: string }>`
    with lock as (${lock})
    insert into inbox (id, source, webhook_id, body_hash, payload, sent_at, correlation_key, status, error)
    select ${m.id}, ${m.source}, ${m.webhookId}, ${m.bodyHash}, ${JSON.stringify(m.payload)}::jsonb, ${m.sentAt}, ${m.correlationKey}, ${status},
           ${failed ? JSON.stringify(m.failure) : null}::jsonb
    from lock
    on conflict (source, webhook_id) do nothing
    returning id
  `.execute(db);
  if (inserted.rows.length > 0) return { inserted: true, id: m.id, status };
  const first = await db
    .selectFrom('inbox')
    .select(['id', 'body_hash', 'correlation_key', 'status'])
    .where('source', '=', m.source)
    .where('webhook_id', '=', m.webhookId)
    .executeTakeFirstOrThrow();
  // The status it was accepted with (a failed one stays failed until retried; a retried one is received again).
  const firstStatus = first.status === 'failed' && first.correlation_key === null ? 'failed' : acceptedStatus(first.correlation_key);
  return { inserted: false, id: first.id, status: firstStatus, sameBody: first.body_hash === m.bodyHash };
}

export async function findInboxMessage(db: Kysely<Database>, id: string): Promise<InboxMessage | undefined> {
  const row = await db.selectFrom('inbox').select(COLUMNS).where('id', '=', id).executeTakeFirst();
  return row ? toMessage(row as Row) : undefined;
}

/** Rows of one key still waiting, up to and including `seq`, in receipt order. */
export async function pendingUpTo(db: Kysely<Database>, source: string, correlationKey: string, seq: string): Promise<InboxMessage[]> {
  const rows = await db
    .selectFrom('inbox')
    .select(COLUMNS)
    .where('source', '=', source)
    .where('correlation_key', '=', correlationKey)
    .where('status', '=', 'received')
    .where('seq', '<=', seq)
    .orderBy('seq')
    .execute();
  return rows.map((r) => toMessage(r as Row));
}

export interface Settlement {
  status: Exclude<InboxStatus, 'received'>;
  caseId?: string | null;
  result?: unknown;
  error?: unknown;
}

/** Settles a row that is still `received` (a second settle of the same row is a no-op). */
export async function settleInboxMessage(db: Kysely<Database>, id: string, s: Settlement, at: Date): Promise<void> {
  await db
    .updateTable('inbox')
    .set({
      status: s.status,
      case_id: s.caseId ?? null,
      result: s.result === undefined ? null : JSON.stringify(s.result),
      error: s.error === undefined ? null : JSON.stringify(s.error),
      applied_at: at,
      attempts: sql`attempts + 1`,
    })
    .where('id', '=', id)
    .where('status', '=', 'received')
    .execute();
}

/** Puts an unmatched or failed row back to `received` under a (re)computed key; undefined if it is not retryable. */
export async function reopenInboxMessage(db: Kysely<Database>, id: string, correlationKey: string): Promise<InboxMessage | undefined> {
  const row = await db
    .updateTable('inbox')
    .set({ status: 'received', correlation_key: correlationKey, error: null, result: null, applied_at: null, case_id: null })
    .where('id', '=', id)
    .where('status', 'in', ['unmatched', 'failed'])
    .returning(COLUMNS)
    .executeTakeFirst();
  return row ? toMessage(row as Row) : undefined;
}

/** Rows still waiting, oldest first, keyset-paged by seq (for the reconciler). */
export async function listReceived(db: Kysely<Database>, afterSeq: string | undefined, limit: number) {
  let q = db.selectFrom('inbox').select(['id', 'seq', 'received_at']).where('status', '=', 'received').orderBy('seq').limit(limit);
  if (afterSeq !== undefined) q = q.where('seq', '>', afterSeq);
  return q.execute();
}

export interface InboxFilters {
  source?: string;
  status?: InboxStatus;
}

/** Newest first, keyset-paged by seq. */
export async function listInbox(db: Kysely<Database>, filters: InboxFilters, beforeSeq: string | undefined, limit: number) {
  let q = db.selectFrom('inbox').select(COLUMNS).orderBy('seq', 'desc').limit(limit + 1);
  if (filters.source) q = q.where('source', '=', filters.source);
  if (filters.status) q = q.where('status', '=', filters.status);
  if (beforeSeq !== undefined) q = q.where('seq', '<', beforeSeq);
  const rows = (await q.execute()).map((r) => toMessage(r as Row));
  const page = rows.slice(0, limit);
  return { items: page, nextSeq: rows.length > limit ? page[page.length - 1]!.seq : null };
}
