/**
 * /v1/inbox: what inbound webhooks brought in and what became of it. Nothing is lost: unmatched
 * and failed messages stay listed, and can be retried once the case or the mapping is there.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { TesseraError } from '../errors.js';
import { idempotencyOf, sendWriteResponse } from './command-request.js';
import type { InboxRetrier } from '../inbound/retry-inbox.js';
import { findInboxMessage, listInbox, type InboxMessage } from '../persistence/inbox-store.js';
import { DEFAULT_PAGE_SIZE, readCursor } from './paging.js';
import type { Database } from '../persistence/schema.js';
import { InboxListQuery, InboxMessageView, InboxParams } from './inbound-schemas.js';
import { EmptyBody, PageOf } from './schemas.js';

const READERS = ['admin', 'supervisor', 'integrator'] as const;
const RETRIERS = ['admin', 'supervisor', 'integrator'] as const;

export function inboxView(m: InboxMessage) {
  return {
    id: m.id,
    seq: m.seq,
    source: m.source,
    webhook_id: m.webhookId,
    status: m.status,
    payload: m.payload,
    correlation_key: m.correlationKey,
    case_id: m.caseId,
    result: m.result,
    error: m.error,
    sent_at: m.sentAt.toISOString(),
    received_at: m.receivedAt.toISOString(),
    applied_at: m.appliedAt?.toISOString() ?? null,
    attempts: m.attempts,
  };
}

const isSeqCursor = (v: unknown): v is { s: string } =>
  typeof v === 'object' && v !== null && typeof (v as { s: unknown }).s === 'string' && /^\d{1,19}$/.test((v as { s: string }).s);

export const inboxRoutes: FastifyPluginAsyncTypebox<{ db: Kysely<Database>; retrier: InboxRetrier }> = async (app, { db, retrier }) => {
  app.get(
    '/v1/inbox',
    {
      config: { roles: READERS },
      schema: { tags: ['inbound'], summary: 'Inbound messages, newest first (e.g. ?status=unmatched)', querystring: InboxListQuery, response: { 200: PageOf(InboxMessageView) } },
    },
    async (request) => {
      const q = request.query;
      const cursor = readCursor(q.cursor, isSeqCursor);
      const page = await listInbox(db, { ...(q.source ? { source: q.source } : {}), ...(q.status ? { status: q.status } : {}) }, cursor?.s, q.limit ?? DEFAULT_PAGE_SIZE);
      return {
        items: page.items.map(inboxView),
        next_cursor: page.nextSeq === null ? null : Buffer.from(JSON.stringify({ s: page.nextSeq })).toString('base64url'),
      };
    },
  );

  app.get(
    '/v1/inbox/:id',
    { config: { roles: READERS }, schema: { tags: ['inbound'], summary: 'One inbound message and its outcome', params: InboxParams, response: { 200: InboxMessageView } } },
    async (request) => {
      const message = await findInboxMessage(db, request.params.id);
      if (!message) throw new TesseraError('INBOX_MESSAGE_NOT_FOUND', `No inbox message has id ${request.params.id}`);
      return inboxView(message);
    },
  );

  app.post(
    '/v1/inbox/:id/retry',
    {
      config: { roles: RETRIERS },
      schema: {
        tags: ['inbound'],
        summary: 'Apply an unmatched or failed message again, with the current mapping',
        params: InboxParams,
        body: EmptyBody,
        response: { 202: InboxMessageView },
      },
    },
    async (request, reply) => {
      const response = await retrier.retry(request.params.id, idempotencyOf(request), (reopened) => ({ statusCode: 202, body: inboxView(reopened) }));
      return sendWriteResponse(reply, response);
    },
  );
};
