/**
 * Rate limits per API key: @fastify/rate-limit, counting in Redis in queue mode (so the limit
 * holds across every API process of a deployment; the increments of one event-loop turn go in one
 * call, rate-limit-store.ts) and in memory in embedded mode (one process).
 *
 * The counter key is the credential (API key id, or browser session) once auth has identified the caller, else the client IP —
 * so failed key guesses are limited too. This works because auth identifies in `onRequest` (an
 * instance hook) and refuses in `preParsing`, while the limiter's hook is route-level and so runs
 * between them (Fastify runs instance hooks before route hooks). A route opts out with
 * `config: { rateLimit: false }` (liveness and readiness probes) or sets its own `{ max }`.
 * A 429 is problem+json (RATE_LIMITED) with Retry-After and RateLimit-* headers.
 */
import fastifyRateLimit, { type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { TesseraError } from '../errors.js';
import { batchedRedisStore } from './rate-limit-store.js';

export interface RateLimitOptions {
  perMinute: number;
  /** Queue mode: count in this Redis; undefined: count in process memory. */
  redisUrl: string | undefined;
  /** The deployment's Redis prefix; counters live under `<prefix>:rate-limit:`. */
  redisPrefix: string;
  logger: Logger;
}

/** The counter a request is charged to. */
export function rateLimitKey(request: FastifyRequest): string {
  const principal = request.principal as FastifyRequest['principal'] | null;
  return principal ? `key:${principal.keyId}` : `ip:${request.ip}`;
}

const describeCounter = (key: string) => (key.startsWith('key:session:') ? 'session' : key.startsWith('key:') ? 'API key' : 'client');

export const rateLimit = fp<RateLimitOptions>(
  async (app: FastifyInstance, options) => {
    let redis: Redis | undefined;
    if (options.redisUrl) {
      // Its own connection: a slow or absent Redis must not hold requests. Commands give up
      // after a second and the limiter then lets the request through (skipOnError): an outage
      // of the counter store does not become an outage of the API; /ready reports Redis.
      redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1, commandTimeout: 1_000, connectionName: 'tessera-rate-limit' });
      redis.on('error', (err) => options.logger.debug({ err }, 'rate-limit redis connection error'));
      app.addHook('onClose', async () => {
        await redis?.quit().catch(() => redis?.disconnect());
      });
    }
    await app.register(fastifyRateLimit, {
      global: true,
      max: options.perMinute,
      timeWindow: 60_000,
      hook: 'onRequest',
      keyGenerator: rateLimitKey,
      enableDraftSpec: true,
      skipOnError: true,
      // The library's Redis store, but one script call per event-loop turn (rate-limit-store.ts).
      // Its types say `child` gets the route's options; at run time it gets `{ routeInfo }`.
      ...(redis ? { store: batchedRedisStore(redis, `${options.redisPrefix}:rate-limit:`) as unknown as FastifyRateLimitStoreCtor } : {}),
      errorResponseBuilder: (request, context) =>
        new TesseraError(
          'RATE_LIMITED',
          `More than ${context.max} requests per minute from this ${describeCounter(rateLimitKey(request))}; retry in ${context.after}`,
        ),
    });
  },
  { name: 'rate-limit' },
);
