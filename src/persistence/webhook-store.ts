/**
 * Outbound webhook rows: subscriptions, deliveries (one per outbox row and subscription, created
 * once) and their attempts. Ids are time-ordered (`<prefix>_<ms hex><random hex>`), so lists page
 * by id alone. Row types stay here; HTTP maps the plain objects these functions return.
 */
import { randomBytes } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, WebhookDeliveryTable, WebhookSubscriptionTable } from './schema.js';

export type SubscriptionRow = Selectable<WebhookSubscriptionTable>;
export type DeliveryRow = Selectable<WebhookDeliveryTable>;

/** Time-ordered id: 12 hex digits of milliseconds, then 16 random hex digits. */
export function newWebhookId(prefix: 'msg' | 'whsub'): string {
  return `${prefix}_${Date.now().toString(16).padStart(12, '0')}${randomBytes(8).toString('hex')}`;
}

export interface Page<T> {
  items: T[];
  /** The last id of this page when there may be more (keyset, newest first). */
  nextAfter: string | null;
}

function page<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  return { items, nextAfter: rows.length > limit ? items[items.length - 1]!.id : null };
}

// ---- subscriptions ----------------------------------------------------------------------------

export interface NewSubscription {
  url: string;
  eventTypes: string[];
  secretSealed: string;
  description: string | null;
  enabled: boolean;
  createdBy: string;
}

export async function insertSubscription(db: Kysely<Database>, input: NewSubscription): Promise<SubscriptionRow> {
  return db
    .insertInto('webhook_subscriptions')
    .values({
      id: newWebhookId('whsub'),
      url: input.url,
      event_types: input.eventTypes,
      secret_sealed: input.secretSealed,
      description: input.description,
      enabled: input.enabled,
      created_by: input.createdBy,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** `owner` limits the answer to one creator's subscriptions (integrators see only their own). */
export async function findSubscription(db: Kysely<Database>, id: string, owner?: string): Promise<SubscriptionRow | undefined> {
  let q = db.selectFrom('webhook_subscriptions').selectAll().where('id', '=', id);
  if (owner !== undefined) q = q.where('created_by', '=', owner);
  return q.executeTakeFirst();
}

export async function listSubscriptions(db: Kysely<Database>, filter: { owner?: string }, after: string | undefined, limit: number) {
  let q = db.selectFrom('webhook_subscriptions').selectAll().orderBy('id', 'desc').limit(limit + 1);
  if (filter.owner !== undefined) q = q.where('created_by', '=', filter.owner);
  if (after !== undefined) q = q.where('id', '<', after);
  return page(await q.execute(), limit);
}

export interface SubscriptionChanges {
  url?: string;
  eventTypes?: string[];
  description?: string | null;
  enabled?: boolean;
}

export async function updateSubscription(db: Kysely<Database>, id: string, owner: string | undefined, changes: SubscriptionChanges) {
  let q = db
    .updateTable('webhook_subscriptions')
    .set({
      ...(changes.url !== undefined ? { url: changes.url } : {}),
      ...(changes.eventTypes !== undefined ? { event_types: changes.eventTypes } : {}),
      ...(changes.description !== undefined ? { description: changes.description } : {}),
      ...(changes.enabled !== undefined ? { enabled: changes.enabled } : {}),
      updated_at: sql`now()`,
    })
    .where('id', '=', id);
  if (owner !== undefined) q = q.where('created_by', '=', owner);
  return q.returningAll().executeTakeFirst();
}

/** The new secret signs from now on; the old one also signs until `previousExpiresAt` (receivers roll over). */
export async function rotateSubscriptionSecret(
  db: Kysely<Database>,
  id: string,
  owner: string | undefined,
  secretSealed: string,
  previousExpiresAt: Date | null,
) {
  let q = db
    .updateTable('webhook_subscriptions')
    .set({
      previous_secret_sealed: previousExpiresAt ? sql<string>`secret_sealed` : null,
      previous_secret_expires_at: previousExpiresAt,
      secret_sealed: secretSealed,
      updated_at: sql`now()`,
    })
    .where('id', '=', id);
  if (owner !== undefined) q = q.where('created_by', '=', owner);
  return q.returningAll().executeTakeFirst();
}

/** Deletes the subscription with its deliveries and attempts (cascade). */
export async function deleteSubscription(db: Kysely<Database>, id: string, owner: string | undefined): Promise<boolean> {
  let q = db.deleteFrom('webhook_subscriptions').where('id', '=', id);
  if (owner !== undefined) q = q.where('created_by', '=', owner);
  const result = await q.executeTakeFirst();
  return result.numDeletedRows > 0n;
}

// ---- fan-out ----------------------------------------------------------------------------------

export interface DueDelivery {
  id: string;
  /** The attempt the next job makes (1 for a new delivery). */
  attempt: number;
  nextAttemptAt: Date;
}

/**
 * Fans committed outbox rows out to the subscriptions that want them, in one transaction: mark
 * the still-pending rows `dispatched` and read their matching enabled subscriptions (one
 * statement; subscriptions created after an event do not get it), then create one delivery per
 * (event, subscription) — skipped when none match, which is the usual case. Rows already
 * dispatched (a repeated job) yield nothing. Returns the deliveries per outbox id, in the order given.
 */
export async function dispatchOutboxRows(db: Kysely<Database>, outboxIds: string[]): Promise<DueDelivery[][]> {
  const byOutbox = new Map<string, DueDelivery[]>(outboxIds.map((id) => [id, []]));
  await db.transaction().execute(async (trx) => {
    const matches = await sql<{ outbox_id: string; type: string; subscription_id: string | null }>`
      with events as (
        update outbox set status = 'dispatched'
        where id = any(${outboxIds}::text[]) and status = 'pending'
        returning id, type, created_at)
      select e.id as outbox_id, e.type, s.id as subscription_id
      from events e
      left join webhook_subscriptions s on s.enabled and s.created_at <= e.created_at
        and (e.type = any(s.event_types) or '*' = any(s.event_types))`.execute(trx);
    const wanted = matches.rows.filter((m): m is typeof m & { subscription_id: string } => m.subscription_id !== null);
    if (wanted.length === 0) return;
    const rows = await trx
      .insertInto('webhook_deliveries')
      .values(
        wanted.map((m) => ({
          id: newWebhookId('msg'),
          outbox_id: m.outbox_id,
          subscription_id: m.subscription_id,
          event_type: m.type,
          next_attempt_at: sql<Date>`now()`,
        })),
      )
      .onConflict((oc) => oc.columns(['outbox_id', 'subscription_id']).doNothing())
      .returning(['id', 'outbox_id', 'next_attempt_at'])
      .execute();
    for (const r of rows) byOutbox.get(r.outbox_id)?.push({ id: r.id, attempt: 1, nextAttemptAt: new Date(r.next_attempt_at!) });
  });
  return outboxIds.map((id) => byOutbox.get(id) ?? []);
}

/** Outbox rows not yet fanned out, oldest first, keyset-paged by seq. */
export async function listPendingOutbox(db: Kysely<Database>, afterSeq: string | undefined, limit: number, createdBefore?: Date) {
  let q = db.selectFrom('outbox').select(['id', 'seq', 'created_at']).where('status', '=', 'pending').orderBy('seq').limit(limit);
  if (afterSeq !== undefined) q = q.where('seq', '>', afterSeq);
  if (createdBefore !== undefined) q = q.where(sql<boolean>`created_at < ${createdBefore.toISOString()}::timestamptz`);
  return q.execute();
}

/**
 * Every pending delivery with its next attempt time, by id. The reconciler arms them all (a
 * delayed job for a future attempt), so after a Redis flush a retry runs on time, not a period late.
 */
export async function listPendingDeliveries(db: Kysely<Database>, afterId: string | undefined, limit: number): Promise<DueDelivery[]> {
  let q = db
    .selectFrom('webhook_deliveries')
    .select(['id', 'attempts', 'next_attempt_at'])
    .where('status', '=', 'pending')
    .orderBy('id')
    .limit(limit);
  if (afterId !== undefined) q = q.where('id', '>', afterId);
  const rows = await q.execute();
  return rows.map((r) => ({ id: r.id, attempt: r.attempts + 1, nextAttemptAt: r.next_attempt_at ? new Date(r.next_attempt_at) : new Date(0) }));
}

// ---- attempts ---------------------------------------------------------------------------------

export interface ClaimedAttempt {
  delivery: DeliveryRow;
  subscription: SubscriptionRow;
  event: { id: string; case_id: string | null; customer_id: string | null; type: string; data: Record<string, unknown>; occurred_at: Date };
}

/**
 * Claims attempt `n` of a delivery: only while it is pending, due, and `n - 1` attempts were
 * made — so two jobs for the same attempt (a reconciler race, a stalled job run again) send once.
 * The claim pushes `next_attempt_at` to `leaseUntil`: a worker that dies mid-attempt leaves a row
 * the reconciler picks up after the lease.
 */
export async function claimAttempt(db: Kysely<Database>, deliveryId: string, n: number, now: Date, leaseUntil: Date): Promise<ClaimedAttempt | undefined> {
  const delivery = await db
    .updateTable('webhook_deliveries')
    .set({ attempts: n, run_attempts: sql<number>`run_attempts + 1`, next_attempt_at: leaseUntil, updated_at: now })
    .where('id', '=', deliveryId)
    .where('status', '=', 'pending')
    .where('attempts', '=', n - 1)
    .where('next_attempt_at', '<=', now)
    .returningAll()
    .executeTakeFirst();
  if (!delivery) return undefined;
  const [subscription, event] = await Promise.all([
    db.selectFrom('webhook_subscriptions').selectAll().where('id', '=', delivery.subscription_id).executeTakeFirst(),
    db.selectFrom('outbox').select(['id', 'case_id', 'customer_id', 'type', 'data', 'occurred_at']).where('id', '=', delivery.outbox_id).executeTakeFirst(),
  ]);
  if (!subscription || !event) return undefined;
  return { delivery, subscription, event: { ...event, data: event.data as Record<string, unknown>, occurred_at: new Date(event.occurred_at) } };
}

/** The delivery's progress, for a job that could not claim its attempt. */
export async function findDeliveryProgress(db: Kysely<Database>, id: string) {
  return db.selectFrom('webhook_deliveries').select(['status', 'attempts', 'next_attempt_at']).where('id', '=', id).executeTakeFirst();
}

/** What one attempt sends, logged before it is sent. The `webhook-id` header is the delivery id. */
export interface AttemptSent {
  n: number;
  at: Date;
  url: string;
  address: string;
  webhookTimestamp: number;
  bodySha256: string;
  bodyBytes: number;
}

/**
 * Logs an attempt before its request goes out, with outcome `unknown`: if the worker dies before
 * the answer is recorded, the log still says what was sent (and that nobody knows the answer).
 * Written outside any transaction, so it is committed before the first byte leaves.
 */
export async function recordAttemptSent(db: Kysely<Database>, deliveryId: string, sent: AttemptSent): Promise<void> {
  await db
    .insertInto('webhook_delivery_attempts')
    .values({
      delivery_id: deliveryId,
      n: sent.n,
      at: sent.at,
      url: sent.url,
      address: sent.address,
      webhook_timestamp: sent.webhookTimestamp,
      body_sha256: sent.bodySha256,
      body_bytes: sent.bodyBytes,
      outcome: 'unknown',
      status_code: null,
      error: null,
      response_body: null,
      duration_ms: null,
    })
    .onConflict((oc) => oc.columns(['delivery_id', 'n']).doNothing())
    .execute();
}

export interface AttemptOutcome {
  n: number;
  at: Date;
  url: string;
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
  durationMs: number;
  /** What the delivery becomes; `nextAttemptAt` only when it stays pending. */
  status: 'delivered' | 'pending' | 'dead';
  nextAttemptAt: Date | null;
}

/**
 * Completes the attempt row with its outcome (or writes it whole, for an attempt refused before
 * anything was sent) and moves the delivery to its new state, together.
 */
export async function recordAttempt(db: Kysely<Database>, deliveryId: string, outcome: AttemptOutcome): Promise<void> {
  const answer = {
    outcome: outcome.status === 'delivered' ? ('succeeded' as const) : ('failed' as const),
    status_code: outcome.statusCode,
    error: outcome.error,
    response_body: outcome.responseBody,
    duration_ms: outcome.durationMs,
  };
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('webhook_delivery_attempts')
      .values({ delivery_id: deliveryId, n: outcome.n, at: outcome.at, url: outcome.url, ...answer })
      .onConflict((oc) => oc.columns(['delivery_id', 'n']).doUpdateSet(answer).where('webhook_delivery_attempts.outcome', '=', 'unknown'))
      .execute();
    await trx
      .updateTable('webhook_deliveries')
      .set({
        status: outcome.status,
        next_attempt_at: outcome.nextAttemptAt,
        last_status_code: outcome.statusCode,
        last_error: outcome.error,
        updated_at: outcome.at,
        ...(outcome.status === 'delivered' ? { delivered_at: outcome.at } : {}),
      })
      .where('id', '=', deliveryId)
      .where('attempts', '=', outcome.n)
      .execute();
  });
}

// ---- reads and replays ------------------------------------------------------------------------

export interface DeliveryFilter {
  subscriptionId?: string;
  status?: string;
  eventType?: string;
  /** Only deliveries of this creator's subscriptions. */
  owner?: string;
}

export async function listDeliveries(db: Kysely<Database>, filter: DeliveryFilter, after: string | undefined, limit: number) {
  let q = db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('outbox as o', 'o.id', 'd.outbox_id')
    .selectAll('d')
    .select(['o.case_id', 'o.customer_id', 'o.occurred_at'])
    .orderBy('d.id', 'desc')
    .limit(limit + 1);
  if (filter.subscriptionId !== undefined) q = q.where('d.subscription_id', '=', filter.subscriptionId);
  if (filter.status !== undefined) q = q.where('d.status', '=', filter.status);
  if (filter.eventType !== undefined) q = q.where('d.event_type', '=', filter.eventType);
  if (filter.owner !== undefined) {
    const owner = filter.owner;
    q = q.where('d.subscription_id', 'in', (eb) => eb.selectFrom('webhook_subscriptions').select('id').where('created_by', '=', owner));
  }
  if (after !== undefined) q = q.where('d.id', '<', after);
  return page(await q.execute(), limit);
}

export async function findDelivery(db: Kysely<Database>, id: string, owner?: string) {
  let q = db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('outbox as o', 'o.id', 'd.outbox_id')
    .innerJoin('webhook_subscriptions as s', 's.id', 'd.subscription_id')
    .selectAll('d')
    .select(['o.case_id', 'o.customer_id', 'o.occurred_at', 'o.data'])
    .where('d.id', '=', id);
  if (owner !== undefined) q = q.where('s.created_by', '=', owner);
  const delivery = await q.executeTakeFirst();
  if (!delivery) return undefined;
  const attempts = await db.selectFrom('webhook_delivery_attempts').selectAll().where('delivery_id', '=', id).orderBy('n').execute();
  return { delivery, attempts };
}

/**
 * Makes a finished delivery pending again with a fresh run of attempts and the same id (so the
 * receiver can still deduplicate). Returns undefined when it is still pending (being delivered).
 */
export async function replayDelivery(db: Kysely<Database>, id: string): Promise<DueDelivery | undefined> {
  const row = await db
    .updateTable('webhook_deliveries')
    .set({ status: 'pending', run_attempts: 0, next_attempt_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('status', '<>', 'pending')
    .returning(['id', 'attempts', 'next_attempt_at'])
    .executeTakeFirst();
  return row ? { id: row.id, attempt: row.attempts + 1, nextAttemptAt: new Date(row.next_attempt_at!) } : undefined;
}

/**
 * Replays the events of [from, to) that match a subscription's types: events it never got a
 * delivery for get one; finished deliveries start a new run under their id; pending ones are left
 * alone (they are on their way). At most `limit` events; returns what to hand to the queue.
 */
export async function replayRange(
  db: Kysely<Database>,
  subscription: Pick<SubscriptionRow, 'id' | 'event_types'>,
  from: Date,
  to: Date,
  limit: number,
): Promise<{ deliveries: DueDelivery[]; events: number }> {
  const events = await db
    .selectFrom('outbox')
    .select(['id', 'type'])
    .where('occurred_at', '>=', from)
    .where('occurred_at', '<', to)
    .$if(!subscription.event_types.includes('*'), (q) => q.where('type', 'in', subscription.event_types))
    .orderBy('occurred_at')
    .orderBy('seq')
    .limit(limit)
    .execute();
  if (events.length === 0) return { deliveries: [], events: 0 };
  const rows = await db
    .insertInto('webhook_deliveries')
    .values(
      events.map((e) => ({
        id: newWebhookId('msg'),
        outbox_id: e.id,
        subscription_id: subscription.id,
        event_type: e.type,
        next_attempt_at: sql<Date>`now()`,
      })),
    )
    .onConflict((oc) =>
      oc
        .columns(['outbox_id', 'subscription_id'])
        .doUpdateSet({ status: 'pending', run_attempts: 0, next_attempt_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
        .where('webhook_deliveries.status', '<>', 'pending'),
    )
    .returning(['id', 'attempts', 'next_attempt_at'])
    .execute();
  return {
    deliveries: rows.map((r) => ({ id: r.id, attempt: r.attempts + 1, nextAttemptAt: new Date(r.next_attempt_at!) })),
    events: events.length,
  };
}
