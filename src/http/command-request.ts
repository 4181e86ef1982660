/** Turns HTTP headers into the command runner's idempotency and concurrency inputs. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CommandResponse, IdempotencyRequest } from '../commands/run-command.js';
import type { WriteResponse } from '../commands/run-idempotent.js';
import { hashRequest } from '../commands/run-command.js';
import { TesseraError } from '../errors.js';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export function idempotencyOf(request: FastifyRequest): IdempotencyRequest | undefined {
  const key = request.headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    throw new TesseraError('VALIDATION_FAILED', 'Idempotency-Key must be 1-255 visible ASCII characters (a UUID is a good choice)', {
      errors: [{ pointer: '/idempotency-key', in: 'header', detail: 'must be 1-255 visible ASCII characters' }],
    });
  }
  return {
    owner: request.principal.userId,
    key,
    requestHash: hashRequest({ method: request.method, url: request.url.split('?')[0], body: request.body ?? null }),
  };
}

/** `If-Match: "v3"` (or `3`) -> 3. */
export function expectedVersionOf(request: FastifyRequest): number | undefined {
  const header = request.headers['if-match'];
  if (header === undefined) return undefined;
  const match = typeof header === 'string' ? /^\s*(?:W\/)?"?v?(\d{1,9})"?\s*$/.exec(header) : null;
  if (!match) {
    throw new TesseraError('VALIDATION_FAILED', 'If-Match must be the ETag of the case, e.g. "v3"', {
      errors: [{ pointer: '/if-match', in: 'header', detail: 'must look like "v3"' }],
    });
  }
  return Number(match[1]);
}

export function etag(version: number): string {
  return `"v${version}"`;
}

export function sendCommandResponse(reply: FastifyReply, response: CommandResponse) {
  if (response.replayed) reply.header('idempotent-replayed', 'true');
  // The case is the body, or `body.case` when a result comes with it (migrate).
  const body = response.body as { version?: number; case?: { version?: number } } | null;
  const version = typeof body?.version === 'number' ? body.version : body?.case?.version;
  if (typeof version === 'number') reply.header('etag', etag(version));
  return reply.code(response.statusCode).send(response.body);
}

/** Sends the answer of an idempotent write (first or replayed), with its stored headers. */
export function sendWriteResponse(reply: FastifyReply, response: WriteResponse) {
  if (response.replayed) reply.header('idempotent-replayed', 'true');
  for (const [name, value] of Object.entries(response.headers ?? {})) reply.header(name, value);
  reply.code(response.statusCode);
  return response.body === undefined ? reply.send() : reply.send(response.body);
}
