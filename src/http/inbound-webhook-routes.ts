/**
 * POST /v1/inbound/:source — a signed inbound webhook (Standard Webhooks). Authenticated by the
 * signature, not an API key. The route reads the raw bytes and the three webhook headers (400 when
 * one is missing or malformed), hands them to the accept use case (inbound/accept-webhook.ts:
 * source, UTF-8, signature, JSON limits, one stored row) and answers 202 with the row's id; a
 * worker applies it (inbound/apply-inbox.ts). A repeat answers as the first time with header
 * `idempotent-replayed: true`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { TesseraError } from '../errors.js';
import type { WebhookAcceptor } from '../inbound/accept-webhook.js';
import type { WebhookHeaders } from '../inbound/signature.js';
import { AcceptedView, WebhookParams } from './inbound-schemas.js';

export interface InboundWebhookRoutesOptions {
  acceptor: WebhookAcceptor;
  /** Requests per minute per (source, client address): a sender's own budget, apart from API keys'. */
  perMinute: number;
}

const WEBHOOK_ID = /^[\x21-\x7e]{1,200}$/;
const TIMESTAMP = /^\d{1,12}$/;

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

export const inboundWebhookRoutes: FastifyPluginAsyncTypebox<InboundWebhookRoutesOptions> = async (app, { acceptor, perMinute }) => {
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
      const source = await acceptor.source(request.params.source);
      const headers = webhookHeaders(request);
      const raw = request.body;
      if (!Buffer.isBuffer(raw)) {
        throw new TesseraError('UNSUPPORTED_MEDIA_TYPE', 'Send the webhook as a JSON body with Content-Type: application/json');
      }
      const accepted = await acceptor.accept(source, headers, raw);
      if (accepted.replayed) reply.header('idempotent-replayed', 'true');
      reply.header('location', `/v1/inbox/${accepted.id}`);
      return reply.code(202).send({ id: accepted.id, status: accepted.status });
    },
  );
};
