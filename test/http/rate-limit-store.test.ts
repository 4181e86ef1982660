/**
 * The batched rate-limit store on real Redis: the increments of one event-loop turn go in one
 * script call and each still gets its own exact count; a window expires; a route's store counts
 * under its own keys; a Redis that does not answer fails the increments (the limiter then lets
 * the requests through) instead of holding them.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { batchedRedisStore } from '../../src/http/rate-limit-store.js';

let redis: Redis;
/** Script calls this client sent (eval or evalsha): what the batching must keep to one per turn. */
let scriptCalls = 0;
const prefix = () => `${inject('redisPrefix')}-rls-${randomUUID()}:`;

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
    if (command.name === 'evalsha' || command.name === 'eval') scriptCalls += 1;
    return (send as (...args: unknown[]) => unknown)(command, ...rest);
  }) as typeof redis.sendCommand;
});
afterAll(() => redis.disconnect());

type Store = { incr(key: string, done: (err: Error | null, r: { current: number; ttl: number } | null) => void, windowMs: number): void };
const newStore = (r: Redis, p: string) => new (batchedRedisStore(r, p))() as unknown as Store & { child(o: unknown): Store };

const incr = (store: Store, key: string, windowMs = 60_000) =>
  new Promise<{ current: number; ttl: number }>((resolve, reject) => store.incr(key, (err, r) => (err ? reject(err) : resolve(r!)), windowMs));

describe('batched rate-limit store', () => {
  it('sends the increments of one turn in one call; each gets its own count and the time left', async () => {
    const p = prefix();
    const store = newStore(redis, p);
    await incr(store, 'warm'); // the first call loads the script
    const before = scriptCalls;
    const a = Array.from({ length: 50 }, () => incr(store, 'a'));
    const b = Array.from({ length: 10 }, () => incr(store, 'b'));
    const [ra, rb] = await Promise.all([Promise.all(a), Promise.all(b)]);
    expect(scriptCalls - before).toBe(1);
    expect(ra.map((r) => r.current).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(rb.map((r) => r.current).sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    for (const r of [...ra, ...rb]) expect(r.ttl).toBeGreaterThan(55_000);
    expect(await redis.get(`${p}a`)).toBe('50');
    const ttl = await redis.pttl(`${p}b`);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('splits a very large turn into calls of at most 500 keys, answering every increment', async () => {
    const store = newStore(redis, prefix());
    await incr(store, 'warm');
    const before = scriptCalls;
    const results = await Promise.all(Array.from({ length: 1_200 }, (_, i) => incr(store, `k${i % 3}`)));
    expect(scriptCalls - before).toBe(3);
    for (const k of [0, 1, 2]) {
      const counts = results.filter((_, i) => i % 3 === k).map((r) => r.current).sort((x, y) => x - y);
      expect(counts).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    }
  });

  it('starts a new window once the last one expired', async () => {
    const store = newStore(redis, prefix());
    expect((await incr(store, 'w', 200)).current).toBe(1);
    expect((await incr(store, 'w', 200)).current).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const fresh = await incr(store, 'w', 200);
    expect(fresh.current).toBe(1);
    expect(fresh.ttl).toBe(200);
  });

  it("counts a route's own limit under the route's method and URL, apart from the global counter", async () => {
    const p = prefix();
    const store = newStore(redis, p);
    const route = store.child({ routeInfo: { method: 'POST', url: '/v1/inbound/:source' } });
    await Promise.all([incr(store, 'ip:1'), incr(route, 'ip:1'), incr(route, 'ip:1')]);
    expect(await redis.get(`${p}ip:1`)).toBe('1');
    expect(await redis.get(`${p}POST/v1/inbound/:source-ip:1`)).toBe('2');
  });

  it('fails the increments when Redis does not answer, within the command timeout', async () => {
    // A loopback port that accepts connections and never answers: a Redis that hangs.
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    const hung = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, commandTimeout: 300, lazyConnect: false });
    hung.on('error', () => {});
    try {
      const store = newStore(hung, prefix());
      const started = Date.now();
      const outcomes = await Promise.allSettled([incr(store, 'x'), incr(store, 'y')]);
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      hung.disconnect();
      silent.close();
    }
  });
});
