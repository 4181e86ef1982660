/**
 * The live side of one API process, assembled: the change feed (reads committed journal
 * entries), the hub (the streams), and the bus (Redis in queue mode, in process when embedded).
 * `committed` is the core's after-commit listener: it wakes this process's feed and, in queue
 * mode, tells the other processes.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { CommittedEffects } from '../commands/run-command.js';
import type { Database } from '../persistence/schema.js';
import { createChangeFeed, type ChangeFeed } from './change-feed.js';
import type { LiveBus } from './live-bus.js';
import { createMemoryLiveBus } from './memory-live-bus.js';
import { createRedisLiveBus } from './redis-live-bus.js';
import { createLiveHub, type LiveHub, type LiveHubDeps } from './live-hub.js';

export interface LiveOptions {
  /** Comment lines that keep idle streams open (default 15 s). */
  heartbeatMs?: number;
  /** The feed is read at least this often, whatever the bus says (default 500 ms). */
  pollMs?: number;
  tilesIntervalMs?: number;
  refreshMs?: number;
  maxBufferBytes?: number;
  maxReplayRows?: number;
  maxReplayAgeMs?: number;
  principalRefreshMs?: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The live streams of this process; `live.hub.openStreams()` is the open-stream gauge. */
    live: Live;
  }
}

export interface Live {
  feed: ChangeFeed;
  hub: LiveHub;
  bus: LiveBus;
  heartbeatMs: number;
  /** The core's after-commit listener. Never throws. */
  committed(committed: CommittedEffects[]): void;
  close(): Promise<void>;
}

export function createLive(deps: { db: Kysely<Database>; bus: LiveBus; logger: Logger; options?: LiveOptions }): Live {
  const options = deps.options ?? {};
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  let hub: LiveHub | undefined;
  const feed = createChangeFeed({ db: deps.db, logger: deps.logger, ...(options.pollMs ? { pollMs: options.pollMs } : {}), idle: () => (hub?.openStreams() ?? 0) === 0 });
  const hubOptions: Partial<LiveHubDeps> = {
    ...(options.tilesIntervalMs ? { tilesIntervalMs: options.tilesIntervalMs } : {}),
    ...(options.refreshMs ? { refreshMs: options.refreshMs } : {}),
    ...(options.maxBufferBytes ? { maxBufferBytes: options.maxBufferBytes } : {}),
    ...(options.maxReplayRows ? { maxReplayRows: options.maxReplayRows } : {}),
    ...(options.maxReplayAgeMs ? { maxReplayAgeMs: options.maxReplayAgeMs } : {}),
    ...(options.principalRefreshMs ? { principalRefreshMs: options.principalRefreshMs } : {}),
  };
  hub = createLiveHub({ db: deps.db, feed, bus: deps.bus, logger: deps.logger, heartbeatMs, ...hubOptions });
  deps.bus.onCommits(() => feed.wake());
  return {
    feed,
    hub,
    bus: deps.bus,
    heartbeatMs,
    committed(committed) {
      if (committed.length === 0) return;
      feed.wake();
      if (deps.bus.kind !== 'memory') deps.bus.publishCommits({ cases: committed.map((c) => c.caseId) });
    },
    async close() {
      await hub?.close();
      feed.close();
      await feed.settled();
      await deps.bus.close();
    },
  };
}

/** The bus for this deployment: Redis in queue mode (REDIS_URL), in process when embedded. */
export function liveBusFor(input: { redisUrl: string | undefined; redisPrefix: string; queueMode: boolean; logger: Logger; subscribe?: boolean }): LiveBus {
  if (input.queueMode && input.redisUrl) {
    return createRedisLiveBus({ redisUrl: input.redisUrl, prefix: input.redisPrefix, logger: input.logger, ...(input.subscribe === false ? { subscribe: false } : {}) });
  }
  return createMemoryLiveBus();
}
