/**
 * Accepting a signed inbound webhook (Standard Webhooks): the use case behind
 * POST /v1/inbound/:source. The route checks the headers' shape and answers; this decides.
 *
 * Checks, in order, each refusing with nothing stored: source known and enabled (404, 409; asked
 * before the route reads the headers), body
 * valid UTF-8 (400), signature and timestamp against each active secret (401), JSON within the
 * depth / NUL / surrogate limits (400). The mapping's rules are matched here (to find the
 * correlation key, which orders the rows of one key); a mapping that fails or hits a bound on this
 * payload stores the message as `failed`. A repeat of an accepted webhook-id answers as the first
 * time (`replayed`); the same webhook-id with another body is a 422.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { TesseraError } from '../errors.js';
import { parseStorableJson } from '../json/storable-json.js';
import { createBatcher } from '../jobs/batcher.js';
import { isDatabaseUnavailable } from '../persistence/driver-errors.js';
import { acceptInboxMessage, acceptInboxMessages, type AcceptResult, type InboxStatus, type NewInboxMessage } from '../persistence/inbox-store.js';
import type { Database } from '../persistence/schema.js';
import type { InboxRelay } from '../relay/inbox-relay.js';
import { activeVerifiers, type InboundSources, type ResolvedSource } from './inbound-sources.js';
import { MappingError } from './mapping.js';
import { TOLERANCE_SECONDS, verifySignature, type WebhookHeaders } from './signature.js';

export interface AcceptWebhookDeps {
  db: Kysely<Database>;
  sources: InboundSources;
  relay: InboxRelay;
  now?: () => Date;
}

export interface AcceptedWebhook {
  id: string;
  status: Extract<InboxStatus, 'received' | 'unmatched' | 'failed'>;
  /** A repeat of a message accepted before: nothing new was stored. */
  replayed: boolean;
}

// BOM kept: the signature covers the bytes as sent.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

type Stored = { ok: true; result: AcceptResult } | { ok: false; error: unknown };

/**
 * Concurrent accepts share one insert statement and one commit (inbox-store.ts,
 * acceptInboxMessages): a batch starts as soon as one of two statements is free and takes what
 * waits, so a lone webhook waits for nothing. A batch whose statement fails for any reason but a
 * lost connection stores its messages one by one, so only a message's own failure reaches its
 * sender; a lost connection fails the batch (503: the commit may have happened, and the sender's
 * retry with the same webhook-id answers as the first time).
 */
function createAcceptBatcher(db: Kysely<Database>, relay: InboxRelay) {
  const stored = async (ms: NewInboxMessage[]): Promise<Stored[]> => {
    try {
      return (await acceptInboxMessages(db, ms)).map((result) => ({ ok: true as const, result }));
    } catch (err) {
      if (ms.length === 1 || isDatabaseUnavailable(err)) throw err;
      return Promise.all(ms.map((m) => acceptInboxMessage(db, m).then((result) => ({ ok: true as const, result }), (error: unknown) => ({ ok: false as const, error }))));
    }
  };
  const store = async (ms: NewInboxMessage[]): Promise<Stored[]> => {
    const results = await stored(ms);
    // After the commit: the jobs are only hints (the reconciler re-arms what they miss).
    relay.handOverMany(
      results.flatMap((r, i) => (r.ok && r.result.inserted && r.result.status === 'received' ? [{ id: r.result.id, source: ms[i]!.source, correlationKey: ms[i]!.correlationKey! }] : [])),
    );
    return results;
  };
  const batcher = createBatcher<NewInboxMessage, Stored>({ run: store, key: (m) => `${m.source}\u0000${m.webhookId}`, maxBatch: 100, maxInFlight: 2 });
  return async (m: NewInboxMessage): Promise<AcceptResult> => {
    const outcome = await batcher.submit(m);
    if (!outcome.ok) throw outcome.error;
    return outcome.result;
  };
}

export function createWebhookAcceptor(deps: AcceptWebhookDeps) {
  const now = deps.now ?? (() => new Date());
  const store = createAcceptBatcher(deps.db, deps.relay);
  return {
    /** The source a message is for, known and enabled; else 404 / 409. Asked first, before the headers. */
    async source(sourceKey: string): Promise<ResolvedSource> {
      const source = await deps.sources.get(sourceKey);
      if (!source) throw new TesseraError('SOURCE_NOT_FOUND', `No inbound source has key "${sourceKey}"; ask an admin to create it (POST /v1/inbound-sources)`);
      if (!source.enabled) throw new TesseraError('SOURCE_DISABLED', `Inbound source "${sourceKey}" is disabled; retry later or ask an admin to enable it`);
      return source;
    },

    /** Stores the message once per (source, webhook-id), or throws a TesseraError (4xx). */
    async accept(source: ResolvedSource, headers: WebhookHeaders, raw: Buffer): Promise<AcceptedWebhook> {
      const sourceKey = source.key;
      let text: string;
      try {
        text = utf8.decode(raw);
      } catch {
        throw new TesseraError('MALFORMED_JSON', 'The body is not valid UTF-8; send JSON encoded as UTF-8');
      }
      const verified = verifySignature(text, headers, activeVerifiers(source, now()));
      if (!verified.ok) {
        throw new TesseraError(
          'WEBHOOK_SIGNATURE_INVALID',
          verified.reason === 'timestamp'
            ? `webhook-timestamp is more than ${TOLERANCE_SECONDS / 60} minutes from our clock; sign with the current time (check the sender's clock)`
            : 'The signature does not match; sign webhook-id.webhook-timestamp.body (the exact bytes sent) with a current secret of this source',
        );
      }
      const payload = parseStorableJson(text);

      const meta = { id: headers.id, source: sourceKey, timestamp: verified.sentAt.toISOString() };
      let correlationKey: string | null = null;
      let failure: Record<string, unknown> | undefined;
      try {
        // Evaluated in the JSONata sandbox: bounded in time and memory, off this thread.
        correlationKey = (await source.mapping.match(payload, meta))?.correlation.key ?? null;
      } catch (err) {
        // The sender did nothing wrong: the message is kept as failed, naming the rule's field,
        // for an admin to fix the mapping and retry (POST /v1/inbox/:id/retry).
        if (!(err instanceof MappingError)) throw err;
        failure = { code: err.limit ? 'MAPPING_LIMIT' : 'INVALID_MAPPING', message: err.message, pointer: err.pointer };
      }

      const accepted = await store({
        id: randomUUID(),
        source: sourceKey,
        webhookId: headers.id,
        bodyHash: createHash('sha256').update(raw).digest('hex'),
        payload,
        sentAt: verified.sentAt,
        correlationKey,
        ...(failure ? { failure } : {}),
      });
      if (!accepted.inserted && !accepted.sameBody) {
        throw new TesseraError('WEBHOOK_ID_REUSED', `webhook-id ${headers.id} was accepted before with a different body; give every message its own webhook-id`);
      }
      return { id: accepted.id, status: accepted.status as AcceptedWebhook['status'], replayed: !accepted.inserted };
    },
  };
}

export type WebhookAcceptor = ReturnType<typeof createWebhookAcceptor>;
