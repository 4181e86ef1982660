import { Redis } from 'ioredis';

/**
 * Deletes every Redis key matching `pattern` (SCAN + DEL, never KEYS or FLUSHALL) and returns how
 * many were deleted. For tests and benchmarks that own a BullMQ prefix on a shared Redis: wiping
 * `<prefix>:*` is the prefix-scoped equivalent of FLUSHALL.
 */
export async function deleteRedisKeys(redisUrl: string, pattern: string): Promise<number> {
  const redis = new Redis(redisUrl);
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}
