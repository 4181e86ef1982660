/**
 * Configuration from the environment, validated once at start into a frozen object.
 * A bad value fails with one line naming the variable and what is expected.
 */
import path from 'node:path';
import { decodeSecretKey } from './platform/secret-box.js';
import { isAllowlistEntry } from './webhooks/ssrf-guard.js';

export const ROLES_OF_PROCESS = ['all', 'api', 'worker'] as const;
export type ProcessRole = (typeof ROLES_OF_PROCESS)[number];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly logLevel: LogLevel;
  /** Unset: embedded Postgres (PGlite) under dataDir. */
  readonly databaseUrl: string | undefined;
  /** Unset: jobs run in process. */
  readonly redisUrl: string | undefined;
  /** BullMQ key prefix; lets several deployments (or test runs) share one Redis. */
  readonly redisPrefix: string;
  readonly dataDir: string;
  readonly role: ProcessRole;
  readonly adminKey: string | undefined;
  /** Encrypts stored webhook secrets. Unset: embedded mode generates one; queue mode refuses to start. */
  readonly secretKey: Buffer | undefined;
  readonly migrateOnStart: boolean;
  /** Embedded mode, empty data directory: seed the demo accounts and cases (src/demo/seed-demo.ts). */
  readonly demo: boolean;
  readonly templatesDir: string;
  readonly bodyLimitBytes: number;
  readonly requestTimeoutMs: number;
  /** Requests per minute per API key (per client IP without a valid key); Redis-counted in queue mode. */
  readonly rateLimitPerMinute: number;
  /** How long an idle pooled Postgres connection lives, ms (0: until the process stops). */
  readonly dbIdleTimeoutMs: number;
  /** Named prepared statements for the command path's hot statements (off behind PgBouncer < 1.21 in transaction mode). */
  readonly dbPreparedStatements: boolean;
  /** Cases whose last write group commit keeps in memory to decide the next command on (0: none; commands/written-cases.ts). */
  readonly writtenCases: number;
  /** Signed inbound webhooks, counted per source and client address (senders batch and burst). */
  readonly inboundRateLimitPerMinute: number;
  readonly shutdownTimeoutMs: number;
  readonly webhooks: WebhookConfig;
  readonly sessions: SessionConfig;
  /** GET /metrics and the worker's metrics port (README "Operations"). */
  readonly metrics: MetricsConfig;
}

export interface MetricsConfig {
  /** A scrape token accepted by GET /metrics besides admin keys (TESSERA_METRICS_TOKEN). */
  readonly token: string | undefined;
  /** role=worker: the port its own /metrics listens on (TESSERA_METRICS_PORT; unset: none). */
  readonly port: number | undefined;
  /** Where that listener binds (TESSERA_METRICS_HOST, default HOST). */
  readonly host: string;
}

/** Browser sign-in and sessions (see README "Sign-in and sessions"). */
export interface SessionConfig {
  /** A session unused for this long ends. */
  readonly idleSeconds: number;
  /** A session ends this long after sign-in, used or not. */
  readonly absoluteSeconds: number;
  /** `auto`: Secure on the cookie unless the request came over plain http to a loopback host (dev). */
  readonly cookieSecure: 'auto' | 'always' | 'never';
  /** Failed sign-ins allowed per username, and per client address, within the window. */
  readonly maxFailuresPerUsername: number;
  readonly maxFailuresPerIp: number;
  readonly failureWindowSeconds: number;
  /** Origins besides the API's own that may send cookie-authenticated writes (a UI behind another host). */
  readonly trustedOrigins: readonly string[];
}

/** Outbound webhook delivery. Small values make tests fast; defaults suit production receivers. */
export interface WebhookConfig {
  /** Hosts (exact names) and CIDRs that may be delivered to although they are private/loopback. */
  readonly allowlist: readonly string[];
  /** Tries of one delivery before it is dead-lettered (a replay grants as many again). */
  readonly maxAttempts: number;
  /** Backoff before try n+1: min(max, base * 2^(n-1)), then jittered to 50-100 %. */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** A receiver that has not answered by then is a failed attempt. */
  readonly timeoutMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function text(env: Env, name: string, fallback?: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  return raw.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return Number(raw);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
  }
  return raw as T;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(`${name} must be true or false (got "${raw}")`);
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL like ${protocols[0]}//host:port/... (got an unparsable value)`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must use ${protocols.join(' or ')} (got "${parsed.protocol}")`);
  }
  return raw;
}

/** Comma-separated hosts and CIDRs; each entry is checked so a typo fails at start, not at delivery. */
function allowlist(env: Env, name: string): string[] {
  const raw = text(env, name);
  if (raw === undefined) return [];
  const entries = raw.split(',').map((e) => e.trim().toLowerCase()).filter((e) => e !== '');
  for (const entry of entries) {
    if (!isAllowlistEntry(entry)) {
      throw new ConfigError(`${name} entries must be host names, IP addresses or CIDRs like 10.1.0.0/16 (got "${entry}")`);
    }
  }
  return entries;
}

/** Comma-separated origins (`https://ui.example.com`), each checked and normalised. */
function origins(env: Env, name: string): string[] {
  const raw = text(env, name);
  if (raw === undefined) return [];
  return raw.split(',').map((e) => e.trim()).filter((e) => e !== '').map((entry) => {
    let parsed: URL;
    try {
      parsed = new URL(entry);
    } catch {
      throw new ConfigError(`${name} entries must be origins like https://ui.example.com (got "${entry}")`);
    }
    if (!['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== entry.replace(/\/$/, '')) {
      throw new ConfigError(`${name} entries must be origins like https://ui.example.com, without a path (got "${entry}")`);
    }
    return parsed.origin;
  });
}

/** Parses the environment. Throws ConfigError (one clear line) on the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const adminKey = text(env, 'TESSERA_ADMIN_KEY');
  if (adminKey !== undefined && adminKey.length < 24) {
    throw new ConfigError('TESSERA_ADMIN_KEY must be at least 24 characters (use `openssl rand -hex 24`)');
  }
  const prefix = text(env, 'TESSERA_REDIS_PREFIX', 'tessera')!;
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) {
    throw new ConfigError(`TESSERA_REDIS_PREFIX must contain only letters, digits, _ and - (got "${prefix}")`);
  }
  const secretKeyText = text(env, 'TESSERA_SECRET_KEY');
  const secretKey = secretKeyText === undefined ? undefined : decodeSecretKey(secretKeyText);
  if (secretKeyText !== undefined && !secretKey) {
    throw new ConfigError('TESSERA_SECRET_KEY must be 32 bytes in base64 (generate one with `openssl rand -base64 32`)');
  }
  const metricsToken = text(env, 'TESSERA_METRICS_TOKEN');
  if (metricsToken !== undefined && metricsToken.length < 24) {
    throw new ConfigError('TESSERA_METRICS_TOKEN must be at least 24 characters (use `openssl rand -hex 24`)');
  }
  const config: Config = {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: text(env, 'HOST', '0.0.0.0')!,
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    redisPrefix: prefix,
    dataDir: path.resolve(text(env, 'TESSERA_DATA_DIR', './.tessera')!),
    role: oneOf(env, 'TESSERA_ROLE', ROLES_OF_PROCESS, 'all'),
    adminKey,
    secretKey,
    migrateOnStart: boolean(env, 'TESSERA_MIGRATE_ON_START', true),
    demo: boolean(env, 'TESSERA_DEMO', true),
    templatesDir: path.resolve(text(env, 'TESSERA_TEMPLATES_DIR', './case-templates')!),
    bodyLimitBytes: integer(env, 'TESSERA_BODY_LIMIT_BYTES', 1_048_576, 1024, 104_857_600),
    requestTimeoutMs: integer(env, 'TESSERA_REQUEST_TIMEOUT_MS', 30_000, 100, 600_000),
    rateLimitPerMinute: integer(env, 'TESSERA_RATE_LIMIT_PER_MINUTE', 600, 1, 1_000_000),
    dbIdleTimeoutMs: integer(env, 'TESSERA_DB_IDLE_TIMEOUT_MS', 600_000, 0, 86_400_000),
    dbPreparedStatements: boolean(env, 'TESSERA_DB_PREPARED_STATEMENTS', true),
    writtenCases: integer(env, 'TESSERA_WRITTEN_CASES', 2_000, 0, 1_000_000),
    inboundRateLimitPerMinute: integer(env, 'TESSERA_INBOUND_RATE_LIMIT_PER_MINUTE', 60_000, 1, 10_000_000),
    shutdownTimeoutMs: integer(env, 'TESSERA_SHUTDOWN_TIMEOUT_MS', 8_000, 100, 600_000),
    webhooks: Object.freeze({
      allowlist: Object.freeze(allowlist(env, 'TESSERA_WEBHOOK_ALLOWLIST')),
      maxAttempts: integer(env, 'TESSERA_WEBHOOK_MAX_ATTEMPTS', 10, 1, 100),
      backoffBaseMs: integer(env, 'TESSERA_WEBHOOK_BACKOFF_BASE_MS', 30_000, 1, 86_400_000),
      backoffMaxMs: integer(env, 'TESSERA_WEBHOOK_BACKOFF_MAX_MS', 21_600_000, 1, 604_800_000),
      timeoutMs: integer(env, 'TESSERA_WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
    }),
    sessions: Object.freeze({
      idleSeconds: integer(env, 'TESSERA_SESSION_IDLE_MINUTES', 30, 1, 1440) * 60,
      absoluteSeconds: integer(env, 'TESSERA_SESSION_ABSOLUTE_HOURS', 12, 1, 720) * 3600,
      cookieSecure: oneOf(env, 'TESSERA_COOKIE_SECURE', ['auto', 'always', 'never'] as const, 'auto'),
      maxFailuresPerUsername: integer(env, 'TESSERA_SIGNIN_MAX_FAILURES', 5, 1, 1000),
      maxFailuresPerIp: integer(env, 'TESSERA_SIGNIN_MAX_FAILURES_PER_IP', 50, 1, 100_000),
      failureWindowSeconds: integer(env, 'TESSERA_SIGNIN_WINDOW_MINUTES', 15, 1, 1440) * 60,
      trustedOrigins: Object.freeze(origins(env, 'TESSERA_TRUSTED_ORIGINS')),
    }),
    metrics: Object.freeze({
      token: metricsToken,
      port: env['TESSERA_METRICS_PORT'] === undefined || env['TESSERA_METRICS_PORT'] === '' ? undefined : integer(env, 'TESSERA_METRICS_PORT', 0, 1, 65535),
      host: text(env, 'TESSERA_METRICS_HOST', text(env, 'HOST', '0.0.0.0'))!,
    }),
  };
  if (config.sessions.absoluteSeconds < config.sessions.idleSeconds) {
    throw new ConfigError('TESSERA_SESSION_ABSOLUTE_HOURS must be at least TESSERA_SESSION_IDLE_MINUTES (a session cannot idle longer than it lives)');
  }
  if (config.role === 'worker' && config.redisUrl === undefined) {
    throw new ConfigError('TESSERA_ROLE=worker needs REDIS_URL (a separate worker takes jobs from Redis)');
  }
  if (config.role !== 'all' && config.databaseUrl === undefined) {
    throw new ConfigError(`TESSERA_ROLE=${config.role} needs DATABASE_URL (embedded Postgres serves one process only)`);
  }
  return Object.freeze(config);
}
