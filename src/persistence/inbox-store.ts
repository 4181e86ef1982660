/**
 * The inbox: every accepted inbound message, durably, before anything is applied. Receipt order
 * is `seq`; for one correlation key it is also commit order, because the insert takes a
 * transaction-scoped advisory lock on (source, key) before `seq` is drawn — so when a worker
 * applies a row, every earlier row of its key is already visible.
 */
import { sql, type Kysely } from 'kysely';
import { PREPARED } from './prepared-statement.js';
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

/**
 * Stores many messages in one statement (one commit): {@link acceptInboxMessage} for a batch,
 * one result per message in the order given. The advisory locks of all the batch's keys are taken
 * first, in one order (by their hashes) so that two batches never wait for each other in a
 * cycle, and `seq` is drawn in the order given. The messages must have distinct
 * (source, webhook-id) pairs (the accept batcher keys by them).
 */
export async function acceptInboxMessages(db: Kysely<Database>, ms: NewInboxMessage[]): Promise<AcceptResult[]> {
  if (ms.length === 0) return [];
  const rows = ms.map((m, ord) => {
    const failed = m.failure !== undefined;
    if (failed && m.correlationKey !== null) throw new Error('a failed message has no correlation key');
    return {
      ord,
      id: m.id,
      source: m.source,
      webhook_id: m.webhookId,
      body_hash: m.bodyHash,
      payload: m.payload,
      sent_at: m.sentAt.toISOString(),
      correlation_key: m.correlationKey,
      status: acceptedStatus(m.correlationKey, failed),
      error: failed ? m.failure : null,
    };
  });
  // The aggregate over the locks completes before the insert reads a row: every lock is held
  // before the first seq is drawn, as in acceptInboxMessage.
  const inserted = await sql<{ id: string }>`${PREPARED}
    with input as (
      select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        as m(ord int, id text, source text, webhook_id text, body_hash text, payload jsonb, sent_at timestamptz,
             correlation_key text, status text, error jsonb)
    ), locks as (
      select count(pg_advisory_xact_lock(k.source_hash, k.key_hash)) as n
      from (select distinct hashtext(source) as source_hash, hashtext(correlation_key) as key_hash
            from input where correlation_key is not null order by 1, 2) k
    )
    insert into inbox (id, source, webhook_id, body_hash, payload, sent_at, correlation_key, status, error)
    select i.id, i.source, i.webhook_id, i.body_hash, i.payload, i.sent_at, i.correlation_key, i.status, i.error
    from input i, locks
    order by i.ord
    on conflict (source, webhook_id) do nothing
    returning id
  `.execute(db);
  const fresh = new Set(inserted.rows.map((r) => r.id));
  const repeats = rows.filter((r) => !fresh.has(r.id));
  const firsts = new Map<string, { id: string; body_hash: string; correlation_key: string | null; status: string }>();
  if (repeats.length > 0) {
    // The arrays let the (source, webhook_id) index drive the join: planned for jsonb_to_recordset's
    // estimated 100 rows alone, it would hash them and scan the whole inbox until that holds tens
    // of thousands of rows.
    const found = await sql<{ id: string; source: string; webhook_id: string; body_hash: string; correlation_key: string | null; status: string }>`
      select i.id, i.source, i.webhook_id, i.body_hash, i.correlation_key, i.status
      from inbox i
      join jsonb_to_recordset(${JSON.stringify(repeats.map((r) => ({ source: r.source, webhook_id: r.webhook_id })))}::jsonb)
        as k(source text, webhook_id text) on i.source = k.source and i.webhook_id = k.webhook_id
      where i.source = any(${[...new Set(repeats.map((r) => r.source))]}::text[])
        and i.webhook_id = any(${repeats.map((r) => r.webhook_id)}::text[])
    `.execute(db);
    for (const f of found.rows) firsts.set(`${f.source}\u0000${f.webhook_id}`, f);
  }
  return rows.map((r): AcceptResult => {
    if (fresh.has(r.id)) return { inserted: true, id: r.id, status: r.status as InboxStatus };
    const first = firsts.get(`${r.source}\u0000${r.webhook_id}`);
    if (!first) throw new Error(`inbox row for ${r.source}/${r.webhook_id} neither inserted nor found`);
    const firstStatus = first.status === 'failed' && first.correlation_key === null ? 'failed' : acceptedStatus(first.correlation_key);
    return { inserted: false, id: first.id, status: firstStatus, sameBody: first.body_hash === r.body_hash };
  });
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

/**
 * The walks of a batch of rows: for each (source, key) of the given rows still `received`, every
 * row of that key still `received` up to the newest of the given ones, in receipt order. One
 * statement for the whole batch; two given rows of one key make one walk.
 */
export async function pendingWalks(db: Kysely<Database>, inboxIds: string[]): Promise<InboxMessage[][]> {
  if (inboxIds.length === 0) return [];
  const rows = await sql<Row>`
    with target as (
      select source, correlation_key, max(seq) as seq from inbox
      where id = any(${inboxIds}::text[]) and status = 'received' and correlation_key is not null
      group by source, correlation_key
    )
    select ${sql.join(COLUMNS.map((c) => sql.ref(`i.${c}`)))}
    from target t
    join inbox i on i.source = t.source and i.correlation_key = t.correlation_key and i.seq <= t.seq and i.status = 'received'
    order by i.seq`.execute(db);
  const walks = new Map<string, InboxMessage[]>();
  for (const r of rows.rows) {
    const m = toMessage(r);
    const key = `${m.source}\u0000${m.correlationKey}`;
    const walk = walks.get(key);
    if (walk) walk.push(m);
    else walks.set(key, [m]);
  }
  return [...walks.values()];
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

/** Settles many rows still `received` in one statement (a row settled already is left alone). */
export async function settleInboxMessages(db: Kysely<Database>, settled: { id: string; settlement: Settlement }[], at: Date): Promise<void> {
  if (settled.length === 0) return;
  const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
  await sql`
    update inbox set status = s.status, case_id = s.case_id, result = s.result::jsonb, error = s.error::jsonb,
                     applied_at = ${at}, attempts = inbox.attempts + 1
    from unnest(${settled.map((s) => s.id)}::text[], ${settled.map((s) => s.settlement.status)}::text[],
                ${settled.map((s) => s.settlement.caseId ?? null)}::text[], ${settled.map((s) => json(s.settlement.result))}::text[],
                ${settled.map((s) => json(s.settlement.error))}::text[]) as s(id, status, case_id, result, error)
    where inbox.id = s.id and inbox.status = 'received'`.execute(db);
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
  let q = db.selectFrom('inbox').select(['id', 'seq', 'received_at', 'source', 'correlation_key']).where('status', '=', 'received').orderBy('seq').limit(limit);
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
