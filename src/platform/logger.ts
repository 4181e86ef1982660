/** pino options shared by the server, the worker and the CLI. */
import type { LoggerOptions } from 'pino';
import { CENSOR, redactSensitive } from './log-redaction.js';
import { traceIdsForLog } from './tracing.js';

/** Headers that carry credentials or signatures. */
const SECRET_HEADERS = ['authorization', 'cookie', 'set-cookie', 'idempotency-key', 'webhook-signature', 'x-api-key'];

/** Field names whose values are secrets or personal data. */
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

/** The settings that hold credentials (a logged config). */
const SECRET_SETTINGS = ['adminKey', 'secretKey', 'databaseUrl', 'redisUrl'];

/**
 * Secrets and personal data never reach the logs: these keys are censored wherever they sit in a
 * logged object or a child logger's bindings, up to four levels down (platform/log-redaction.ts).
 * Request lines carry no headers and no query string (see `serializers.req`).
 */
export const SENSITIVE_KEYS: ReadonlySet<string> = new Set([...SECRET_HEADERS, ...SENSITIVE_FIELDS, ...SECRET_SETTINGS]);

const redact = (object: Record<string, unknown>) => redactSensitive(object, SENSITIVE_KEYS);

/**
 * pino applies no formatter to a child logger's bindings (Fastify's per-request `{ reqId }`), so
 * the same keys are also plain redact paths: without a wildcard, pino only pays for a path when
 * its key is there.
 */
const TOP_LEVEL_PATHS = [...SENSITIVE_KEYS].map((key) => (/^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`));

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
    // Before serializers: an object logged by mistake is censored as it was given.
    formatters: { log: redact, bindings: redact },
    redact: { paths: TOP_LEVEL_PATHS, censor: CENSOR },
    serializers: { req: serializeRequest },
    base: { service: 'tessera', pid: process.pid },
    // Each line carries the active trace and span ids (nothing when tracing is off).
    mixin: traceIdsForLog,
  };
}
