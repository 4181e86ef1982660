/**
 * The rate limiter's counters in Redis, counted together: every increment asked for during one
 * turn of the event loop goes to Redis in one script call, and each request still gets its own
 * exact count. @fastify/rate-limit's Redis store sends one call per request, each its own socket
 * write and its own reply to read: 11 % of the API process's CPU while it accepted signed
 * webhooks as fast as it could (a CPU profile of `npm run bench:inbound`). Under load the requests
 * read in one turn are many; alone, a request waits for nothing but the end of its turn.
 *
 * A fixed window per key, as the library's store keeps it: the first increment of a window sets
 * its expiry, and the count and the time left come back with every increment.
 */
import type { Redis } from 'ioredis';

/** KEYS: the counters; ARGV[i]: the window of KEYS[i] in ms. Returns count and ms left, per key. */
const INCREMENT_ALL = `
local out = {}
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[i])
  local count = redis.call('INCR', key)
  local left = window
  if count == 1 then
    redis.call('PEXPIRE', key, window)
  else
    left = redis.call('PTTL', key)
    -- A counter without an expiry would never reset.
    if left < 0 then redis.call('PEXPIRE', key, window); left = window end
  end
  out[#out + 1] = count
  out[#out + 1] = left
end
return out`;

/** Increments per script call: bounds one call's work inside Redis, which runs scripts alone. */
const MAX_KEYS_PER_CALL = 500;

type Callback = (err: Error | null, result: { current: number; ttl: number } | null) => void;

interface Pending {
  key: string;
  windowMs: number;
  done: Callback;
}

type CountingRedis = Redis & { tesseraIncrementAll(count: number, ...args: (string | number)[]): Promise<number[]> };

/** The per-turn queue every store of one client shares (the global limit and each route's own). */
function createCounter(redis: Redis) {
  const client = redis as CountingRedis;
  if (typeof client.tesseraIncrementAll !== 'function') client.defineCommand('tesseraIncrementAll', { lua: INCREMENT_ALL });
  let queue: Pending[] = [];

  function send(batch: Pending[]) {
    client.tesseraIncrementAll(batch.length, ...batch.map((p) => p.key), ...batch.map((p) => p.windowMs)).then(
      (out) => batch.forEach((p, i) => p.done(null, { current: out[2 * i]!, ttl: out[2 * i + 1]! })),
      (err: Error) => batch.forEach((p) => p.done(err, null)),
    );
  }

  function flush() {
    const taken = queue;
    queue = [];
    for (let i = 0; i < taken.length; i += MAX_KEYS_PER_CALL) send(taken.slice(i, i + MAX_KEYS_PER_CALL));
  }

  return (pending: Pending) => {
    // setImmediate runs after the poll phase: every request read in this turn is queued by then.
    if (queue.length === 0) setImmediate(flush);
    queue.push(pending);
  };
}

/** What @fastify/rate-limit calls on a store (`incr`) and to derive a route's own (`child`). */
class BatchedRedisStore {
  constructor(
    private readonly count: ReturnType<typeof createCounter>,
    private readonly prefix: string,
  ) {}

  incr(key: string, done: Callback, timeWindow: number): void {
    this.count({ key: this.prefix + key, windowMs: timeWindow, done });
  }

  /** A route with limits of its own counts under its method and URL, as the library's store does. */
  child(routeOptions: { routeInfo?: { method?: string; url?: string } }): BatchedRedisStore {
    const route = routeOptions.routeInfo ?? {};
    return new BatchedRedisStore(this.count, `${this.prefix}${route.method}${route.url}-`);
  }
}

/**
 * The `store` option of @fastify/rate-limit (it constructs the class itself): counters under
 * `prefix` in `redis`. The limiter's `skipOnError` handles a Redis that does not answer.
 */
export function batchedRedisStore(redis: Redis, prefix: string) {
  const count = createCounter(redis);
  return class extends BatchedRedisStore {
    constructor() {
      super(count, prefix);
    }
  };
}
