/**
 * RFC 9457 problem+json for every error: one place maps domain errors, validation errors and
 * Fastify's own errors to stable codes. The text of 5xx errors never reaches the client.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { DATABASE_RETRY_AFTER_SECONDS, ERROR_CODES, TesseraError, problemType, type ErrorCode } from '../errors.js';
import { isDatabaseUnavailable } from '../persistence/driver-errors.js';

export interface FieldProblem {
  /** JSON pointer into the request part named by `in`. */
  pointer: string;
  in: string;
  detail: string;
}

interface AjvLikeError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
  /** `#/...`: where in the validated schema the failed keyword sits. */
  schemaPath?: string;
}

const quoteAll = (values: unknown[]) => values.map((v) => JSON.stringify(v)).join(', ');

/** The schema holding the keyword at `schemaPath` (`#/properties/a/discriminator` -> properties.a). */
function parentOf(schema: unknown, schemaPath: string | undefined): unknown {
  const steps = (schemaPath ?? '').replace(/^#\/?/, '').split('/').slice(0, -1);
  let at = schema;
  for (const step of steps) {
    if (step === '') continue;
    at = (at as Record<string, unknown> | undefined)?.[step.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  return at;
}

/** The tag values a discriminated union (`oneOf` + `discriminator`) allows, from its schema. */
function tagValues(parentSchema: unknown, tag: string): unknown[] {
  const branches = (parentSchema as { oneOf?: { properties?: Record<string, { const?: unknown; enum?: unknown[] }> }[] } | undefined)?.oneOf ?? [];
  return branches.flatMap((b) => {
    const property = b.properties?.[tag];
    return property?.const !== undefined ? [property.const] : (property?.enum ?? []);
  });
}

/**
 * Drops what a union adds beside the real problem: "must match a schema in anyOf", "must be null"
 * from the null branch of a nullable field (the type error then says "or null"), and one
 * "must be equal to constant" per literal (merged into one "must be one of").
 */
function withoutUnionNoise(errors: AjvLikeError[]): AjvLikeError[] {
  const isSummary = (e: AjvLikeError) => e.keyword === 'anyOf' || e.keyword === 'oneOf';
  const isNullBranch = (e: AjvLikeError) => e.keyword === 'type' && e.params.type === 'null';
  const specific = errors.filter((e) => !isSummary(e) && !isNullBranch(e));
  if (specific.length === 0) return errors;
  const nullable = new Set(errors.filter(isNullBranch).map((e) => e.instancePath));
  const constants = new Map<string, unknown[]>();
  const kept: AjvLikeError[] = [];
  for (const e of specific) {
    if (e.keyword === 'const') {
      const seen = constants.get(e.instancePath);
      if (seen) {
        seen.push(e.params.allowedValue);
        continue;
      }
      constants.set(e.instancePath, [e.params.allowedValue]);
      kept.push(e);
    } else if (e.keyword === 'type' && nullable.has(e.instancePath)) {
      kept.push({ ...e, message: `must be ${String(e.params.type)} or null` });
    } else kept.push(e);
  }
  return kept.map((e) =>
    e.keyword === 'const' ? { ...e, keyword: 'enum', params: { allowedValues: constants.get(e.instancePath) } } : e,
  );
}

/**
 * Turns Ajv errors into field problems whose detail says what to change. `schema`: the schema
 * that was validated (to list the allowed values of a discriminator).
 */
export function fieldProblems(errors: AjvLikeError[], location: string, schema?: unknown): FieldProblem[] {
  return withoutUnionNoise(errors).map((e) => {
    let pointer = e.instancePath || '';
    let detail = e.message ?? 'is invalid';
    if (e.keyword === 'required') {
      pointer = `${pointer}/${String(e.params.missingProperty)}`;
      detail = 'is required';
    } else if (e.keyword === 'additionalProperties') {
      pointer = `${pointer}/${String(e.params.additionalProperty)}`;
      detail = 'is not a known field; remove it (check the spelling against the API schema)';
    } else if (e.keyword === 'enum') {
      detail = `must be one of ${quoteAll(e.params.allowedValues as unknown[])}`;
    } else if (e.keyword === 'discriminator') {
      const tag = String(e.params.tag);
      const allowed = quoteAll(tagValues(parentOf(schema, e.schemaPath), tag));
      pointer = `${pointer}/${tag}`;
      detail = e.params.tagValue === undefined ? `is required: one of ${allowed}` : `must be one of ${allowed}`;
    }
    return { pointer: pointer || '/', in: location, detail };
  });
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
};

function toProblem(error: FastifyError | TesseraError | Error, request: FastifyRequest) {
  if (error instanceof TesseraError) {
    return { code: error.code, detail: error.message, extra: error.details };
  }
  const fastifyError = error as FastifyError & { validationContext?: string };
  if (fastifyError.validation) {
    const location = fastifyError.validationContext ?? 'body';
    const schema = (request.routeOptions.schema as Record<string, unknown> | undefined)?.[location];
    const errors = fieldProblems(fastifyError.validation as AjvLikeError[], location, schema);
    const first = errors[0];
    return {
      code: 'VALIDATION_FAILED' as const,
      detail: first ? `${first.in} ${first.pointer} ${first.detail}` : 'The request is invalid',
      extra: { errors },
    };
  }
  const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped) return { code: mapped, detail: fastifyError.message };
  if (fastifyError.statusCode === 429) return { code: 'RATE_LIMITED' as const, detail: fastifyError.message };
  if (fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return { code: 'VALIDATION_FAILED' as const, detail: fastifyError.message };
  }
  if (isDatabaseUnavailable(error)) {
    // Not a bug: the database restarts, fails over or dropped the session. Logged without the
    // stack (an outage would flood the log); the pool reconnects by itself.
    request.log.warn({ error: error.message, code: (error as { code?: unknown }).code }, 'database unavailable');
    return {
      code: 'DATABASE_UNAVAILABLE' as const,
      detail: `The database is not reachable right now; retry in ${DATABASE_RETRY_AFTER_SECONDS} s with the same Idempotency-Key (a write whose answer was lost may have been applied)`,
    };
  }
  request.log.error({ err: error }, 'unhandled error');
  return { code: 'INTERNAL' as const, detail: 'An internal error occurred; it has been logged with the request id.' };
}

export function sendProblem(
  reply: FastifyReply,
  request: FastifyRequest,
  code: ErrorCode,
  detail: string,
  extra?: Record<string, unknown>,
) {
  const { status, title } = ERROR_CODES[code];
  if (code === 'DATABASE_UNAVAILABLE') reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
  return reply
    .code(status)
    .type('application/problem+json')
    .send({
      type: problemType(code),
      title,
      status,
      detail,
      instance: request.url,
      code,
      request_id: request.id,
      ...extra,
    });
}

export const problemDetails = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((error, request, reply) => {
      const problem = toProblem(error as FastifyError, request);
      return sendProblem(reply, request, problem.code, problem.detail, problem.extra);
    });
    app.setNotFoundHandler((request, reply) =>
      sendProblem(reply, request, 'ROUTE_NOT_FOUND', `${request.method} ${request.url.split('?')[0]} is not a Tessera route; see /docs for the API`),
    );
  },
  { name: 'problem-details' },
);

const CLIENT_ERRORS: Record<string, { code: ErrorCode; detail: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { code: 'REQUEST_TIMEOUT', detail: 'The request headers and body must arrive within the request timeout; send the whole request without pauses' },
  HPE_HEADER_OVERFLOW: { code: 'HEADERS_TOO_LARGE', detail: 'The request headers exceed the size limit; send fewer or shorter headers' },
};

/**
 * Errors Node raises before Fastify has a request (a request that stalls past the timeout,
 * oversized headers, broken HTTP): answered as problem+json on the raw socket, then closed.
 * Passed to Fastify as `clientErrorHandler`.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { code, detail } = CLIENT_ERRORS[err.code ?? ''] ?? { code: 'BAD_REQUEST' as const, detail: 'The request is not valid HTTP/1.1' };
  const { status, title } = ERROR_CODES[code];
  const body = JSON.stringify({ type: problemType(code), title, status, detail, code });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
