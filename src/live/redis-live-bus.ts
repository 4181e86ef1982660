/**
 * The live bus across API processes (queue mode), on Redis under the deployment's key prefix
 * (TESSERA_REDIS_PREFIX):
 *
 * - `<prefix>:live:commits` (pub/sub): after commit, which cases changed. A wake-up only: every
 *   API process then reads the change feed from Postgres in order, so a lost message delays live
 *   events until the next poll and never loses one.
 * - `<prefix>:live:presence:<case id>` (hash stream id -> viewer with its expiry, the key with a
 *   TTL) and `<prefix>:live:presence` (pub/sub: a case's viewers changed). Each process refreshes
 *   its viewers every few seconds; those of a process that died expire.
 * - `<prefix>:live:stream:<stream id>` (the stream's user, with a TTL) and `<prefix>:live:control`
 *   (pub/sub): a subscription change that reached another process goes to the one holding the stream.
 *
 * No ioredis `keyPrefix` (STACK.md): keys are built here. Two connections: a subscriber (ioredis
 * puts a subscribed connection in a mode that runs no other command) and one for the rest.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CommitNotice, ControlMessage, LiveBus, PresenceEntry, Viewer } from './live-bus.js';

export interface RedisLiveBusOptions {
  redisUrl: string;
  prefix: string;
  logger: Logger;
  /** False for a process that only writes (a worker): it publishes commits and listens to nothing. */
  subscribe?: boolean;
  /** How long a viewer or a stream registration lives without a refresh (default 30 s). */
  ttlMs?: number;
}

export function liveChannels(prefix: string) {
  return {
    commits: `${prefix}:live:commits`,
    presence: `${prefix}:live:presence`,
    control: `${prefix}:live:control`,
    presenceKey: (caseId: string) => `${prefix}:live:presence:${caseId}`,
    streamKey: (streamId: string) => `${prefix}:live:stream:${streamId}`,
  };
}

export function createRedisLiveBus(options: RedisLiveBusOptions): LiveBus {
  const { logger } = options;
  const ttlMs = options.ttlMs ?? 30_000;
  const names = liveChannels(options.prefix);
  // Fails fast: a slow Redis must not hold a command's answer or a stream (the feed poll covers it).
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1, commandTimeout: 2_000, connectionName: 'tessera-live' });
  redis.on('error', (err) => logger.debug({ err }, 'live bus redis connection error'));
  const commitListeners: (() => void)[] = [];
  const presenceListeners: ((caseId: string) => void)[] = [];
  const controlListeners: ((message: ControlMessage) => void)[] = [];

  let subscriber: Redis | undefined;
  if (options.subscribe !== false) {
    subscriber = new Redis(options.redisUrl, { maxRetriesPerRequest: null, connectionName: 'tessera-live-sub' });
    subscriber.on('error', (err) => logger.debug({ err }, 'live bus subscriber connection error'));
    subscriber.subscribe(names.commits, names.presence, names.control).catch((err: unknown) => logger.warn({ err }, 'live bus could not subscribe; live events come by polling'));
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === names.commits) for (const l of commitListeners) l();
      else if (channel === names.presence) for (const l of presenceListeners) l(message);
      else if (channel === names.control) {
        try {
          const parsed = JSON.parse(message) as ControlMessage;
          for (const l of controlListeners) l(parsed);
        } catch (err) {
          logger.warn({ err }, 'live bus: unreadable control message ignored');
        }
      }
    });
  }

  const viewerValue = (viewer: Viewer) => JSON.stringify({ ...viewer, exp: Date.now() + ttlMs });
  const warn = (what: string) => (err: unknown) => logger.warn({ err }, `live bus: ${what} failed`);

  return {
    kind: 'redis',
    publishCommits(notice: CommitNotice) {
      redis.publish(names.commits, JSON.stringify(notice)).catch(warn('publishing a commit (streams catch up by polling)'));
    },
    onCommits(listener) {
      commitListeners.push(listener);
    },
    async joinPresence(entry: PresenceEntry) {
      const key = names.presenceKey(entry.caseId);
      await redis.multi().hset(key, entry.streamId, viewerValue(entry.viewer)).pexpire(key, ttlMs).publish(names.presence, entry.caseId).exec();
    },
    async leavePresence(caseId, streamId) {
      await redis.multi().hdel(names.presenceKey(caseId), streamId).publish(names.presence, caseId).exec();
    },
    async refreshPresence(entries) {
      if (entries.length === 0) return;
      const batch = redis.pipeline();
      for (const e of entries) {
        const key = names.presenceKey(e.caseId);
        batch.hset(key, e.streamId, viewerValue(e.viewer)).pexpire(key, ttlMs);
      }
      await batch.exec();
    },
    async viewers(caseId) {
      const key = names.presenceKey(caseId);
      const all = await redis.hgetall(key);
      const now = Date.now();
      const live: (Viewer & { streamId: string })[] = [];
      const expired: string[] = [];
      for (const [streamId, value] of Object.entries(all)) {
        try {
          const v = JSON.parse(value) as Viewer & { exp: number };
          if (v.exp > now) live.push({ userId: v.userId, role: v.role, since: v.since, streamId });
          else expired.push(streamId);
        } catch {
          expired.push(streamId);
        }
      }
      // A viewer whose process died: removed by whoever reads it first.
      if (expired.length > 0) await redis.hdel(key, ...expired);
      return live;
    },
    onPresence(listener) {
      presenceListeners.push(listener);
    },
    async registerStreams(list) {
      if (list.length === 0) return;
      const batch = redis.pipeline();
      for (const s of list) batch.set(names.streamKey(s.streamId), s.userId, 'PX', ttlMs);
      await batch.exec();
    },
    async unregisterStream(streamId) {
      await redis.del(names.streamKey(streamId));
    },
    async streamOwner(streamId) {
      return (await redis.get(names.streamKey(streamId))) ?? undefined;
    },
    async forward(message) {
      await redis.publish(names.control, JSON.stringify(message));
    },
    onControl(listener) {
      controlListeners.push(listener);
    },
    async close() {
      await Promise.all([redis.quit().catch(() => redis.disconnect()), subscriber?.quit().catch(() => subscriber?.disconnect())]);
    },
  };
}
