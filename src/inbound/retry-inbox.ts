/**
 * Retrying an unmatched or failed inbox message with the source's current mapping: the use case
 * behind POST /v1/inbox/:id/retry. The row goes back to `received` (with the key the current
 * mapping gives it) in the transaction that stores the idempotent answer, and is queued after
 * commit; the applier then applies it like a new message, after later rows of its key.
 */
import type { Kysely } from 'kysely';
import type { IdempotencyRequest } from '../commands/run-command.js';
import type { IdempotentWriter, WriteAnswer, WriteResponse } from '../commands/run-idempotent.js';
import { TesseraError } from '../errors.js';
import { findInboxMessage, reopenInboxMessage, type InboxMessage } from '../persistence/inbox-store.js';
import type { Database } from '../persistence/schema.js';
import type { InboxRelay } from '../relay/inbox-relay.js';
import type { InboundSources } from './inbound-sources.js';
import { MappingError } from './mapping.js';

export interface RetryInboxDeps {
  db: Kysely<Database>;
  sources: InboundSources;
  relay: InboxRelay;
  writes: IdempotentWriter;
}

export function createInboxRetrier(deps: RetryInboxDeps) {
  return {
    /** `answer` shapes the (stored, replayable) answer from the reopened row. */
    async retry(id: string, idempotency: IdempotencyRequest | undefined, answer: (reopened: InboxMessage) => WriteAnswer): Promise<WriteResponse> {
      return deps.writes.run(idempotency, {
        prepare: async () => {
          const message = await findInboxMessage(deps.db, id);
          if (!message) throw new TesseraError('INBOX_MESSAGE_NOT_FOUND', `No inbox message has id ${id}`);
          if (message.status !== 'unmatched' && message.status !== 'failed') {
            throw new TesseraError('INBOX_NOT_RETRYABLE', `Inbox message ${message.id} is ${message.status}; only unmatched or failed messages are retried`);
          }
          const source = await deps.sources.get(message.source);
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
            answer: answer(reopened),
            // A fresh job id: the row's first job may still be known to the queue.
            afterCommit: () => deps.relay.handOver({ id: reopened.id, source: reopened.source, correlationKey }, `${reopened.id}-retry${Date.now().toString(36)}`),
          };
        },
      });
    },
  };
}

export type InboxRetrier = ReturnType<typeof createInboxRetrier>;
