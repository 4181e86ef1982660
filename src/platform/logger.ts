/** pino options shared by the server, the worker and the CLI. */
import type { LoggerOptions } from 'pino';

/**
 * Secrets and personal data never reach the logs. Paths are pino redact paths; `*` covers one level.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'req.headers["webhook-signature"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.secret',
  '*.apiKey',
  '*.api_key',
  '*.token',
  '*.email',
  '*.phone',
  '*.customer',
  '*.caseFile',
  '*.case_file',
  'config.adminKey',
  'config.secretKey',
  'config.databaseUrl',
  'config.redisUrl',
];

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { service: 'tessera', pid: process.pid },
  };
}
