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
  readonly templatesDir: string;
  readonly bodyLimitBytes: number;
  readonly requestTimeoutMs: number;
  /** Requests per minute per API key (per client IP without a valid key); Redis-counted in queue mode. */
  readonly rateLimitPerMinute: number;
  /** Signed inbound webhooks, counted per source and client address (senders batch and burst). */
  readonly inboundRateLimitPerMinute: number;
  readonly shutdownTimeoutMs: number;
  readonly webhooks: WebhookConfig;
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
    templatesDir: path.resolve(text(env, 'TESSERA_TEMPLATES_DIR', './case-templates')!),
    bodyLimitBytes: integer(env, 'TESSERA_BODY_LIMIT_BYTES', 1_048_576, 1024, 104_857_600),
    requestTimeoutMs: integer(env, 'TESSERA_REQUEST_TIMEOUT_MS', 30_000, 100, 600_000),
    rateLimitPerMinute: integer(env, 'TESSERA_RATE_LIMIT_PER_MINUTE', 600, 1, 1_000_000),
    inboundRateLimitPerMinute: integer(env, 'TESSERA_INBOUND_RATE_LIMIT_PER_MINUTE', 60_000, 1, 10_000_000),
    shutdownTimeoutMs: integer(env, 'TESSERA_SHUTDOWN_TIMEOUT_MS', 8_000, 100, 600_000),
    webhooks: Object.freeze({
      allowlist: Object.freeze(allowlist(env, 'TESSERA_WEBHOOK_ALLOWLIST')),
      maxAttempts: integer(env, 'TESSERA_WEBHOOK_MAX_ATTEMPTS', 10, 1, 100),
      backoffBaseMs: integer(env, 'TESSERA_WEBHOOK_BACKOFF_BASE_MS', 30_000, 1, 86_400_000),
      backoffMaxMs: integer(env, 'TESSERA_WEBHOOK_BACKOFF_MAX_MS', 21_600_000, 1, 604_800_000),
      timeoutMs: integer(env, 'TESSERA_WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
    }),
  };
  if (config.role === 'worker' && config.redisUrl === undefined) {
    throw new ConfigError('TESSERA_ROLE=worker needs REDIS_URL (a separate worker takes jobs from Redis)');
  }
  if (config.role !== 'all' && config.databaseUrl === undefined) {
    throw new ConfigError(`TESSERA_ROLE=${config.role} needs DATABASE_URL (embedded Postgres serves one process only)`);
  }
  return Object.freeze(config);
}
