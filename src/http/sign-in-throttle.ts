/**
 * Failed sign-ins, counted per username and per client address within a fixed window, so a
 * password can be guessed neither against one account from many addresses nor against many
 * accounts from one. Only failures count (a user who signs in ten times a day is not slowed);
 * a success clears its username's counter. In queue mode the counters live in Redis, so the
 * limit holds across every API process; embedded mode counts in memory (one process).
 *
 * Like the request limiter (rate-limit.ts), it fails open: if Redis does not answer, sign-in is
 * not blocked (the password check still runs, and the outage is logged).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface SignInThrottle {
  /** Seconds until the caller may try again, or undefined when they may try now. */
  blockedFor(username: string, ip: string): Promise<number | undefined>;
  recordFailure(username: string, ip: string): Promise<void>;
  clear(username: string): Promise<void>;
}

export interface SignInThrottleOptions {
  maxPerUsername: number;
  maxPerIp: number;
  windowSeconds: number;
  /** Queue mode: count here, under `<prefix>:sign-in:`. */
  redis?: Redis | undefined;
  prefix: string;
  logger: Logger;
}

// Usernames are hashed into the key: counters in Redis name nobody.
const userKey = (username: string) => `u:${createHash('sha256').update(username.toLowerCase()).digest('hex').slice(0, 32)}`;
const ipKey = (ip: string) => `ip:${ip}`;

export function createSignInThrottle(options: SignInThrottleOptions): SignInThrottle {
  const limits = (username: string, ip: string) => [
    { key: userKey(username), max: options.maxPerUsername },
    { key: ipKey(ip), max: options.maxPerIp },
  ];
  const redis = options.redis;
  if (redis) {
    const ns = `${options.prefix}:sign-in:`;
    const failOpen = (err: unknown) => options.logger.warn({ err }, 'sign-in throttle: Redis did not answer; not limiting this attempt');
    return {
      async blockedFor(username, ip) {
        try {
          const checks = limits(username, ip);
          const pipeline = redis.pipeline();
          for (const c of checks) pipeline.get(ns + c.key).ttl(ns + c.key);
          const results = (await pipeline.exec()) ?? [];
          let wait: number | undefined;
          checks.forEach((c, i) => {
            const count = Number(results[2 * i]?.[1] ?? 0);
            const ttl = Number(results[2 * i + 1]?.[1] ?? -1);
            if (count >= c.max) wait = Math.max(wait ?? 0, ttl > 0 ? ttl : options.windowSeconds);
          });
          return wait;
        } catch (err) {
          failOpen(err);
          return undefined;
        }
      },
      async recordFailure(username, ip) {
        try {
          const pipeline = redis.pipeline();
          // The window starts at the first failure: SET NX with the expiry, then count.
          for (const c of limits(username, ip)) pipeline.set(ns + c.key, 0, 'EX', options.windowSeconds, 'NX').incr(ns + c.key);
          await pipeline.exec();
        } catch (err) {
          failOpen(err);
        }
      },
      async clear(username) {
        try {
          await redis.del(ns + userKey(username));
        } catch (err) {
          failOpen(err);
        }
      },
    };
  }
  const counts = new Map<string, { count: number; resetAt: number }>();
  const live = (key: string, now: number) => {
    const entry = counts.get(key);
    if (entry && entry.resetAt <= now) counts.delete(key);
    return counts.get(key);
  };
  return {
    async blockedFor(username, ip) {
      const now = Date.now();
      let wait: number | undefined;
      for (const c of limits(username, ip)) {
        const entry = live(c.key, now);
        if (entry && entry.count >= c.max) wait = Math.max(wait ?? 0, Math.ceil((entry.resetAt - now) / 1000));
      }
      return wait;
    },
    async recordFailure(username, ip) {
      const now = Date.now();
      for (const c of limits(username, ip)) {
        const entry = live(c.key, now) ?? { count: 0, resetAt: now + options.windowSeconds * 1000 };
        entry.count += 1;
        counts.set(c.key, entry);
      }
      // Bound the memory an attacker cycling usernames can take.
      if (counts.size > 100_000) for (const [key, entry] of counts) if (entry.resetAt <= now) counts.delete(key);
    },
    async clear(username) {
      counts.delete(userKey(username));
    },
  };
}
