/**
 * Outbound webhooks: /v1/webhook-subscriptions, /v1/webhook-deliveries, /v1/event-types.
 *
 * Subscriptions are managed by admin and integrator keys. An integrator sees and changes only the
 * subscriptions it created (others answer 404); an admin sees all. The signing secret is returned
 * once, at creation or rotation, and stored sealed. The URL passes the SSRF guard on every write
 * (and again before every attempt).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { IdempotentWriter } from '../commands/run-idempotent.js';
import { TesseraError } from '../errors.js';
import { idempotencyOf, sendWriteResponse } from './command-request.js';
import type { Principal } from '../persistence/api-key-store.js';
import type { Database } from '../persistence/schema.js';
import {
  deleteSubscription,
  findDelivery,
  findSubscription,
  insertSubscription,
  listDeliveries,
  listSubscriptions,
  replayDelivery,
  replayRange,
  rotateSubscriptionSecret,
  updateSubscription,
  type SubscriptionRow,
} from '../persistence/webhook-store.js';
import type { SecretBox } from '../platform/secret-box.js';
import type { WebhookRelay } from '../relay/webhook-relay.js';
import { EVENT_TYPES, eventTypeProblem } from '../webhooks/event-catalog.js';
import { cloudEvent, newSigningSecret } from '../webhooks/signed-event.js';
import type { SsrfGuard } from '../webhooks/ssrf-guard.js';
import {
  CreateSubscriptionBody,
  DeliveryDetailView,
  DeliveryListQuery,
  DeliveryView,
  EventTypeView,
  ReplayRangeBody,
  ReplayResult,
  RotateSecretBody,
  SubscriptionListQuery,
  SubscriptionView,
  SubscriptionWithSecretView,
  UpdateSubscriptionBody,
  WebhookParams,
} from './webhook-schemas.js';
import { DEFAULT_PAGE_SIZE, readCursor } from './paging.js';
import { EmptyBody, PageOf } from './schemas.js';

export interface WebhookRoutesOptions {
  db: Kysely<Database>;
  /** Idempotency-Key for every write here. */
  writes: IdempotentWriter;
  secrets: SecretBox;
  guard: SsrfGuard;
  relay: WebhookRelay;
}

const MANAGERS = ['admin', 'integrator'] as const;
/** Events one range replay may resend; a larger range is refused (replay it in parts). */
export const REPLAY_RANGE_MAX_EVENTS = 10_000;

const iso = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());
const encodeCursor = (id: string) => Buffer.from(JSON.stringify({ a: id })).toString('base64url');
const isIdCursor = (v: unknown): v is { a: string } => typeof v === 'object' && v !== null && typeof (v as { a?: unknown }).a === 'string';
const decodeCursor = (cursor: string | undefined): string | undefined => readCursor(cursor, isIdCursor)?.a;

/** Integrators are limited to their own subscriptions; admins see every one. */
const ownerFilter = (principal: Principal) => (principal.role === 'admin' ? undefined : principal.userId);

function subscriptionView(row: SubscriptionRow) {
  return {
    id: row.id,
    url: row.url,
    event_types: row.event_types,
    description: row.description,
    enabled: row.enabled,
    created_by: row.created_by,
    created_at: iso(row.created_at)!,
    updated_at: iso(row.updated_at)!,
    previous_secret_expires_at: iso(row.previous_secret_expires_at),
  };
}

type DeliveryListRow = Awaited<ReturnType<typeof listDeliveries>>['items'][number];

function deliveryView(row: DeliveryListRow) {
  return {
    id: row.id,
    subscription_id: row.subscription_id,
    event_id: row.outbox_id,
    event_type: row.event_type,
    case_id: row.case_id,
    customer_id: row.customer_id,
    status: row.status as 'pending' | 'delivered' | 'dead',
    attempt_count: row.attempts,
    next_attempt_at: row.status === 'pending' ? iso(row.next_attempt_at) : null,
    last_status_code: row.last_status_code,
    last_error: row.last_error,
    occurred_at: iso(row.occurred_at)!,
    created_at: iso(row.created_at)!,
    delivered_at: iso(row.delivered_at),
  };
}

export const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRoutesOptions> = async (app, { db, writes, secrets, guard, relay }) => {
  async function checkUrl(url: string): Promise<string> {
    const verdict = await guard.check(url);
    if (!verdict.ok) {
      throw new TesseraError('WEBHOOK_URL_NOT_ALLOWED', `url ${verdict.reason}`, {
        errors: [{ pointer: '/url', in: 'body', detail: verdict.reason }],
      });
    }
    return verdict.url.toString();
  }

  function checkEventTypes(types: string[]): void {
    const errors = types.flatMap((type, i) => {
      const problem = eventTypeProblem(type);
      return problem ? [{ pointer: `/event_types/${i}`, in: 'body', detail: problem }] : [];
    });
    if (errors.length > 0) throw new TesseraError('INVALID_EVENT_TYPE', `event_types${errors[0]!.pointer.slice('/event_types'.length)}: ${errors[0]!.detail}`, { errors });
  }

  async function ownSubscription(id: string, principal: Principal): Promise<SubscriptionRow> {
    const row = await findSubscription(db, id, ownerFilter(principal));
    if (!row) throw new TesseraError('WEBHOOK_SUBSCRIPTION_NOT_FOUND', `No webhook subscription has id ${id}; list yours with GET /v1/webhook-subscriptions`);
    return row;
  }

  app.get(
    '/v1/event-types',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'The published catalog of outbound event types, with a JSON Schema of each payload (`data`)',
        response: { 200: Type.Object({ items: Type.Array(EventTypeView) }) },
      },
    },
    async () => ({ items: EVENT_TYPES.map((e) => ({ type: e.type, description: e.description, schema: e.schema })) }),
  );

  app.post(
    '/v1/webhook-subscriptions',
    {
      config: { roles: MANAGERS },
      schema: {
        tags: ['webhooks'],
        summary: 'Subscribe a URL to event types; the signing secret is in this answer only',
        body: CreateSubscriptionBody,
        response: { 201: SubscriptionWithSecretView },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const response = await writes.run(idempotencyOf(request), {
        secret: true,
        prepare: async () => {
          checkEventTypes(b.event_types);
          return checkUrl(b.url);
        },
        effect: async (trx, url) => {
          const secret = newSigningSecret();
          const row = await insertSubscription(trx, {
            url,
            eventTypes: b.event_types,
            secretSealed: secrets.seal(secret),
            description: b.description ?? null,
            enabled: b.enabled ?? true,
            createdBy: request.principal.userId,
          });
          return { answer: { statusCode: 201, headers: { location: `/v1/webhook-subscriptions/${row.id}` }, body: { ...subscriptionView(row), secret } } };
        },
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.get(
    '/v1/webhook-subscriptions',
    {
      config: { roles: MANAGERS },
      schema: { tags: ['webhooks'], summary: 'Your subscriptions (admins: all), newest first', querystring: SubscriptionListQuery, response: { 200: PageOf(SubscriptionView) } },
    },
    async (request) => {
      const page = await listSubscriptions(db, { ...optionalOwner(request.principal) }, decodeCursor(request.query.cursor), request.query.limit ?? DEFAULT_PAGE_SIZE);
      return { items: page.items.map(subscriptionView), next_cursor: page.nextAfter ? encodeCursor(page.nextAfter) : null };
    },
  );

  app.get(
    '/v1/webhook-subscriptions/:id',
    { config: { roles: MANAGERS }, schema: { tags: ['webhooks'], summary: 'One subscription (never its secret)', params: WebhookParams, response: { 200: SubscriptionView } } },
    async (request) => subscriptionView(await ownSubscription(request.params.id, request.principal)),
  );

  app.patch(
    '/v1/webhook-subscriptions/:id',
    {
      config: { roles: MANAGERS },
      schema: {
        tags: ['webhooks'],
        summary: 'Change the URL, event types, description, or enable/disable (a disabled subscription gets no new deliveries)',
        params: WebhookParams,
        body: UpdateSubscriptionBody,
        response: { 200: SubscriptionView },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const response = await writes.run(idempotencyOf(request), {
        prepare: async () => {
          await ownSubscription(request.params.id, request.principal);
          if (body.event_types) checkEventTypes(body.event_types);
          return body.url !== undefined ? await checkUrl(body.url) : undefined;
        },
        effect: async (trx, url) => {
          const row = await updateSubscription(trx, request.params.id, ownerFilter(request.principal), {
            ...(url !== undefined ? { url } : {}),
            ...(body.event_types !== undefined ? { eventTypes: body.event_types } : {}),
            ...(body.description !== undefined ? { description: body.description } : {}),
            ...(body.enabled !== undefined ? { enabled: body.enabled } : {}),
          });
          if (!row) throw new TesseraError('WEBHOOK_SUBSCRIPTION_NOT_FOUND', `No webhook subscription has id ${request.params.id}`);
          return { answer: { statusCode: 200, body: subscriptionView(row) } };
        },
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.delete(
    '/v1/webhook-subscriptions/:id',
    { config: { roles: MANAGERS }, schema: { tags: ['webhooks'], summary: 'Delete a subscription with its delivery log', params: WebhookParams } },
    async (request, reply) => {
      const response = await writes.run(idempotencyOf(request), {
        effect: async (trx) => {
          if (!(await deleteSubscription(trx, request.params.id, ownerFilter(request.principal)))) {
            throw new TesseraError('WEBHOOK_SUBSCRIPTION_NOT_FOUND', `No webhook subscription has id ${request.params.id}`);
          }
          return { answer: { statusCode: 204 } };
        },
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.post(
    '/v1/webhook-subscriptions/:id/rotate-secret',
    {
      config: { roles: MANAGERS },
      schema: {
        tags: ['webhooks'],
        summary: 'Issue a new signing secret (shown once); the old one also signs for `expire_previous_in_seconds` (default 24 h)',
        params: WebhookParams,
        body: RotateSecretBody,
        response: { 200: SubscriptionWithSecretView },
      },
    },
    async (request, reply) => {
      const response = await writes.run(idempotencyOf(request), {
        secret: true,
        prepare: () => ownSubscription(request.params.id, request.principal),
        effect: async (trx) => {
          const seconds = request.body?.expire_previous_in_seconds ?? 86_400;
          const secret = newSigningSecret();
          const row = await rotateSubscriptionSecret(
            trx,
            request.params.id,
            ownerFilter(request.principal),
            secrets.seal(secret),
            seconds > 0 ? new Date(Date.now() + seconds * 1000) : null,
          );
          if (!row) throw new TesseraError('WEBHOOK_SUBSCRIPTION_NOT_FOUND', `No webhook subscription has id ${request.params.id}`);
          return { answer: { statusCode: 200, body: { ...subscriptionView(row), secret } } };
        },
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.post(
    '/v1/webhook-subscriptions/:id/replay',
    {
      config: { roles: MANAGERS },
      schema: {
        tags: ['webhooks'],
        summary: 'Resend the matching events that occurred in [from, to), each under its original webhook-id',
        params: WebhookParams,
        body: ReplayRangeBody,
        response: { 202: ReplayResult },
      },
    },
    async (request, reply) => {
      const from = new Date(request.body.from);
      const to = new Date(request.body.to);
      const response = await writes.run(idempotencyOf(request), {
        prepare: async () => {
          const subscription = await ownSubscription(request.params.id, request.principal);
          if (!(from < to)) {
            throw new TesseraError('REPLAY_RANGE_INVALID', '`from` must be before `to`', { errors: [{ pointer: '/to', in: 'body', detail: 'must be after from' }] });
          }
          return subscription;
        },
        effect: async (trx, subscription) => {
          const result = await replayRange(trx, subscription, from, to, REPLAY_RANGE_MAX_EVENTS + 1);
          if (result.events > REPLAY_RANGE_MAX_EVENTS) {
            throw new TesseraError('REPLAY_RANGE_INVALID', `The range holds more than ${REPLAY_RANGE_MAX_EVENTS} events; replay it in smaller ranges`);
          }
          return {
            answer: { statusCode: 202, body: { events: result.events, deliveries: result.deliveries.length } },
            afterCommit: () => relay.armDeliveries(result.deliveries),
          };
        },
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.get(
    '/v1/webhook-deliveries',
    {
      config: { roles: MANAGERS },
      schema: {
        tags: ['webhooks'],
        summary: 'Deliveries of your subscriptions, newest first; filter by subscription, status, event type',
        querystring: DeliveryListQuery,
        response: { 200: PageOf(DeliveryView) },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await listDeliveries(
        db,
        {
          ...optionalOwner(request.principal),
          ...(q.subscription_id !== undefined ? { subscriptionId: q.subscription_id } : {}),
          ...(q.status !== undefined ? { status: q.status } : {}),
          ...(q.event_type !== undefined ? { eventType: q.event_type } : {}),
        },
        decodeCursor(q.cursor),
        q.limit ?? DEFAULT_PAGE_SIZE,
      );
      return { items: page.items.map(deliveryView), next_cursor: page.nextAfter ? encodeCursor(page.nextAfter) : null };
    },
  );

  app.get(
    '/v1/webhook-deliveries/:id',
    {
      config: { roles: MANAGERS },
      schema: { tags: ['webhooks'], summary: 'One delivery, the event it carries and every attempt', params: WebhookParams, response: { 200: DeliveryDetailView } },
    },
    async (request) => {
      const found = await findDelivery(db, request.params.id, ownerFilter(request.principal));
      if (!found) throw new TesseraError('WEBHOOK_DELIVERY_NOT_FOUND', `No webhook delivery has id ${request.params.id}`);
      const { delivery, attempts } = found;
      return {
        ...deliveryView(delivery),
        event: cloudEvent({
          id: delivery.outbox_id,
          case_id: delivery.case_id,
          customer_id: delivery.customer_id,
          type: delivery.event_type,
          data: delivery.data as Record<string, unknown>,
          occurred_at: new Date(delivery.occurred_at),
        }),
        attempts: attempts.map((a) => ({
          n: a.n,
          at: iso(a.at)!,
          url: a.url,
          outcome: a.outcome,
          address: a.address,
          webhook_timestamp: a.webhook_timestamp === null ? null : Number(a.webhook_timestamp),
          body_sha256: a.body_sha256,
          body_bytes: a.body_bytes,
          status_code: a.status_code,
          error: a.error,
          response_body: a.response_body,
          duration_ms: a.duration_ms,
        })),
      };
    },
  );

  app.post(
    '/v1/webhook-deliveries/:id/replay',
    {
      config: { roles: MANAGERS },
      schema: {
        tags: ['webhooks'],
        summary: 'Send a delivered or dead-lettered delivery again (same webhook-id, a fresh run of attempts)',
        params: WebhookParams,
        body: EmptyBody,
        response: { 202: DeliveryView },
      },
    },
    async (request, reply) => {
      const owner = ownerFilter(request.principal);
      const response = await writes.run(idempotencyOf(request), {
        prepare: async () => {
          const found = await findDelivery(db, request.params.id, owner);
          if (!found) throw new TesseraError('WEBHOOK_DELIVERY_NOT_FOUND', `No webhook delivery has id ${request.params.id}`);
        },
        effect: async (trx) => {
          const due = await replayDelivery(trx, request.params.id);
          if (!due) {
            throw new TesseraError('DELIVERY_IN_PROGRESS', `Delivery ${request.params.id} is still pending; wait for it to be delivered or dead-lettered`);
          }
          const after = await findDelivery(trx, request.params.id, owner);
          return { answer: { statusCode: 202, body: deliveryView(after!.delivery) }, afterCommit: () => relay.armDeliveries([due]) };
        },
      });
      return sendWriteResponse(reply, response);
    },
  );
};

function optionalOwner(principal: Principal): { owner?: string } {
  const owner = ownerFilter(principal);
  return owner === undefined ? {} : { owner };
}
