/**
 * /v1/inbox: what inbound webhooks brought in and what became of it. Nothing is lost: unmatched
 * and failed messages stay listed, and can be retried once the case or the mapping is there.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import type { IdempotentWriter } from '../commands/run-idempotent.js';
import { TesseraError } from '../errors.js';
import { idempotencyOf, sendWriteResponse } from './command-request.js';
import type { InboundSources } from '../inbound/inbound-sources.js';
import { MappingError } from '../inbound/mapping.js';
import { findInboxMessage, listInbox, reopenInboxMessage, type InboxMessage } from '../persistence/inbox-store.js';
import { DEFAULT_PAGE_SIZE, readCursor } from './paging.js';
import type { Database } from '../persistence/schema.js';
import type { InboxRelay } from '../relay/inbox-relay.js';
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

export const inboxRoutes: FastifyPluginAsyncTypebox<{ db: Kysely<Database>; sources: InboundSources; relay: InboxRelay; writes: IdempotentWriter }> = async (
  app,
  { db, sources, relay, writes },
) => {
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
      const response = await writes.run(idempotencyOf(request), {
        prepare: async () => {
          const message = await findInboxMessage(db, request.params.id);
          if (!message) throw new TesseraError('INBOX_MESSAGE_NOT_FOUND', `No inbox message has id ${request.params.id}`);
          if (message.status !== 'unmatched' && message.status !== 'failed') {
            throw new TesseraError('INBOX_NOT_RETRYABLE', `Inbox message ${message.id} is ${message.status}; only unmatched or failed messages are retried`);
          }
          const source = await sources.get(message.source);
          if (!source) throw new TesseraError('SOURCE_NOT_FOUND', `Source "${message.source}" no longer exists; create it again to retry its messages`);
          let correlationKey: string | undefined;
          try {
            correlationKey = (await source.mapping.match(message.payload, { id: message.webhookId, source: message.source, timestamp: message.sentAt.toISOString() }))
              ?.correlation.key;
          } catch (err) {
            if (!(err instanceof MappingError)) throw err;
            throw new TesseraError(err.limit ? 'MAPPING_LIMIT' : 'INVALID_MAPPING', `The mapping fails on this message: ${err.message}; fix the mapping (PATCH /v1/inbound-sources/${message.source}) and retry`);
          }
          if (!correlationKey) {
            throw new TesseraError('INBOX_NOT_RETRYABLE', `No rule of source "${message.source}" applies to this message; change the mapping first`);
          }
          return { message, correlationKey };
        },
        effect: async (trx, { message, correlationKey }) => {
          const reopened = await reopenInboxMessage(trx, message.id, correlationKey);
          if (!reopened) throw new TesseraError('INBOX_NOT_RETRYABLE', `Inbox message ${message.id} changed meanwhile; reload it`);
          return {
            answer: { statusCode: 202, body: inboxView(reopened) },
            // A fresh job id: the row's first job may still be known to the queue.
            afterCommit: () => relay.handOver(reopened.id, `${reopened.id}-retry${Date.now().toString(36)}`),
          };
        },
      });
      return sendWriteResponse(reply, response);
    },
  );
};
