/**
 * POST /v1/inbound/:source — a signed inbound webhook (Standard Webhooks). Authenticated by the
 * signature, not an API key. The route verifies the exact bytes, stores the message once per
 * (source, webhook-id) and answers 202; a worker applies it (inbound/apply-inbox.ts).
 *
 * Checks, in order, each refusing with nothing stored: source known and enabled (404, 409),
 * the three webhook headers (400), body valid UTF-8 (400), signature and timestamp against each
 * active secret (401), JSON within the depth / NUL / surrogate limits (400).
 * The mapping's rules are matched here (to find the correlation key); a mapping that fails or
 * hits a bound on this payload stores the message as `failed` (202, status failed).
 * A repeat of an accepted webhook-id answers as the first time (202, same id, header
 * `idempotent-replayed: true`); the same webhook-id with another body is a 422.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { TesseraError } from '../errors.js';
import { activeVerifiers, type InboundSources } from '../inbound/inbound-sources.js';
import { MappingError } from '../inbound/mapping.js';
import { TOLERANCE_SECONDS, verifySignature, type WebhookHeaders } from '../inbound/signature.js';
import { acceptInboxMessage } from '../persistence/inbox-store.js';
import type { Database } from '../persistence/schema.js';
import type { InboxRelay } from '../relay/inbox-relay.js';
import { AcceptedView, WebhookParams } from './inbound-schemas.js';
import { parseJsonBody } from './json-body.js';

export interface InboundWebhookRoutesOptions {
  db: Kysely<Database>;
  sources: InboundSources;
  relay: InboxRelay;
  /** Requests per minute per (source, client address): a sender's own budget, apart from API keys'. */
  perMinute: number;
}

const WEBHOOK_ID = /^[\x21-\x7e]{1,200}$/;
const TIMESTAMP = /^\d{1,12}$/;
// BOM kept: the signature covers the bytes as sent.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function headerProblem(name: string, detail: string): TesseraError {
  return new TesseraError('VALIDATION_FAILED', `header ${name} ${detail}`, { errors: [{ pointer: `/${name}`, in: 'header', detail }] });
}

function webhookHeaders(request: FastifyRequest): WebhookHeaders {
  const read = (name: string) => {
    const value = request.headers[name];
    if (typeof value !== 'string' || value === '') throw headerProblem(name, 'is required (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)');
    return value;
  };
  const id = read('webhook-id');
  const timestamp = read('webhook-timestamp');
  const signature = read('webhook-signature');
  if (!WEBHOOK_ID.test(id)) throw headerProblem('webhook-id', 'must be 1-200 visible ASCII characters, unique per message (e.g. msg_2KWPBgLlAfxdpx2AI54pPJ85f4W)');
  if (!TIMESTAMP.test(timestamp)) throw headerProblem('webhook-timestamp', 'must be the send time in integer seconds since the Unix epoch');
  if (signature.length > 2000) throw headerProblem('webhook-signature', 'is too long; send at most a few space-separated v1,<base64> signatures');
  return { id, timestamp, signature };
}

export const inboundWebhookRoutes: FastifyPluginAsyncTypebox<InboundWebhookRoutesOptions> = async (app, { db, sources, relay, perMinute }) => {
  // This scope only: the raw bytes, because the signature covers them exactly.
  app.removeAllContentTypeParsers();
  // Parameters allowed (`; charset=utf-8`): Fastify matches a RegExp against the whole header.
  app.addContentTypeParser(/^application\/([\w.+-]+\+)?json\s*(;.*)?$/i, { parseAs: 'buffer' }, (request, body, done) => {
    const charset = /;\s*charset\s*=\s*"?([\w-]+)/i.exec(String(request.headers['content-type']))?.[1];
    if (charset !== undefined && charset.toLowerCase() !== 'utf-8' && charset.toLowerCase() !== 'utf8') {
      done(new TesseraError('UNSUPPORTED_MEDIA_TYPE', `charset ${charset} is not supported; send the JSON body as UTF-8`), undefined);
      return;
    }
    done(null, body);
  });

  app.post(
    '/v1/inbound/:source',
    {
      config: {
        public: true,
        // No API key here: count per source and sender address, so one sender's burst neither
        // uses the API's per-client budget nor another source's.
        rateLimit: { max: perMinute, keyGenerator: (request) => `inbound:${(request.params as { source?: string }).source ?? ''}:${request.ip}` },
      },
      schema: {
        tags: ['inbound'],
        summary: 'Signed inbound webhook (Standard Webhooks); 202 once durably stored, applied asynchronously',
        security: [],
        params: WebhookParams,
        response: { 202: AcceptedView },
      },
    },
    async (request, reply) => {
      const sourceKey = request.params.source;
      const source = await sources.get(sourceKey);
      if (!source) throw new TesseraError('SOURCE_NOT_FOUND', `No inbound source has key "${sourceKey}"; ask an admin to create it (POST /v1/inbound-sources)`);
      if (!source.enabled) throw new TesseraError('SOURCE_DISABLED', `Inbound source "${sourceKey}" is disabled; retry later or ask an admin to enable it`);
      const headers = webhookHeaders(request);

      const raw = request.body;
      if (!Buffer.isBuffer(raw)) {
        throw new TesseraError('UNSUPPORTED_MEDIA_TYPE', 'Send the webhook as a JSON body with Content-Type: application/json');
      }
      let text: string;
      try {
        text = utf8.decode(raw);
      } catch {
        throw new TesseraError('MALFORMED_JSON', 'The body is not valid UTF-8; send JSON encoded as UTF-8');
      }

      const verified = verifySignature(text, headers, activeVerifiers(source, new Date()));
      if (!verified.ok) {
        throw new TesseraError(
          'WEBHOOK_SIGNATURE_INVALID',
          verified.reason === 'timestamp'
            ? `webhook-timestamp is more than ${TOLERANCE_SECONDS / 60} minutes from our clock; sign with the current time (check the sender's clock)`
            : 'The signature does not match; sign webhook-id.webhook-timestamp.body (the exact bytes sent) with a current secret of this source',
        );
      }
      const payload = parseJsonBody(text);

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

      const accepted = await acceptInboxMessage(db, {
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
      if (accepted.inserted && accepted.status === 'received') relay.handOver(accepted.id);
      if (!accepted.inserted) reply.header('idempotent-replayed', 'true');
      reply.header('location', `/v1/inbox/${accepted.id}`);
      return reply.code(202).send({ id: accepted.id, status: accepted.status as 'received' | 'unmatched' | 'failed' });
    },
  );
};
