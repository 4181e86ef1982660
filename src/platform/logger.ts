/** pino options shared by the server, the worker and the CLI. */
import type { LoggerOptions } from 'pino';
import { traceIdsForLog } from './tracing.js';

/** Headers that carry credentials or signatures. */
const SECRET_HEADERS = ['authorization', 'cookie', '"idempotency-key"', '"webhook-signature"', '"x-api-key"'];

/** Field names whose values are secrets or personal data, wherever they sit (up to two levels down). */
const SENSITIVE_FIELDS = [
  'password',
  'current_password',
  'passwordHash',
  'password_hash',
  'csrf_token',
  'csrfToken',
  'secret',
  'signingSecret',
  'signing_secret',
  'apiKey',
  'api_key',
  'keyHash',
  'key_hash',
  'token',
  'email',
  'phone',
  'customer',
  'caseFile',
  'case_file',
];

/**
 * Secrets and personal data never reach the logs. Paths are pino redact paths; `*` covers one
 * level, so each field is listed at the top, the first and the second level (`{ secret }`,
 * `{ case: { caseFile } }`, `{ command: { input: { caseFile } } }`). Request lines carry no headers and no
 * query string (see `serializers.req`).
 */
export const REDACTED_PATHS = [
  ...SECRET_HEADERS.flatMap((h) => [`headers.${h}`, `*.headers.${h}`]),
  'res.headers["set-cookie"]',
  ...SENSITIVE_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]),
  'config.adminKey',
  'config.secretKey',
  'config.databaseUrl',
  'config.redisUrl',
];

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
}

/**
 * A request as logged: method, path, host and client address. The query string is left out —
 * filters can carry personal data (`customer_id=`) and clients sometimes put keys there.
 */
function serializeRequest(req: LoggedRequest) {
  const [path, query] = String(req.url ?? '').split('?', 2);
  return { method: req.method, url: query === undefined ? path : `${path}?[redacted]`, host: req.host, remoteAddress: req.ip };
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { req: serializeRequest },
    base: { service: 'tessera', pid: process.pid },
    // Each line carries the active trace and span ids (nothing when tracing is off).
    mixin: traceIdsForLog,
  };
}
