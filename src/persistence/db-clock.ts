/**
 * The database's clock, as every process of a deployment sees it. Postgres is the one clock all
 * processes share, so due checks and journal times use its time, never the machine's: a worker
 * whose clock runs fast must not fire a timer early, one running slow must not arm it late.
 *
 * - Commands read the exact database time in their lock-and-load statement
 *   (`statement_timestamp()`, case-store.ts) and hand it to the engine; that costs no round trip.
 * - Everything else that needs "now" without a statement of its own (arming a delayed job, a
 *   cheap early check before a transaction) uses `now()`: the local clock corrected by the offset
 *   learned from those statements (and from `sync`). The estimate is off by at most half a round
 *   trip, which is why the final due check is always the statement's own time.
 */
import { sql, type Kysely } from 'kysely';

export interface DbClock {
  /** The database's time, estimated from the local clock and the last learned offset. */
  now(): Date;
  /** The local clock, uncorrected (what BullMQ on this machine measures delays against). */
  local(): number;
  /** Database time minus local time, in ms, as last learned. */
  offsetMs(): number;
  /**
   * Learns the offset from a database time read by a statement that was sent at local time
   * `sentAt` and answered at `receivedAt` (the database time is taken as the midpoint).
   */
  observe(dbTime: Date, sentAt: number, receivedAt: number): void;
  /** Reads the database's clock once (process start, reconciler passes). */
  sync(db: Kysely<any>): Promise<void>;
}

/**
 * The local clock of this process: `Date.now()`, shifted by `TESSERA_TEST_CLOCK_SKEW_MS` when
 * `NODE_ENV=test` — a seam for tests that run a process with a skewed clock (ignored otherwise).
 */
export function localClockFromEnv(env: Record<string, string | undefined> = process.env): () => number {
  const skew = env['NODE_ENV'] === 'test' ? Number(env['TESSERA_TEST_CLOCK_SKEW_MS'] ?? 0) : 0;
  if (!Number.isFinite(skew) || skew === 0) return Date.now;
  return () => Date.now() + skew;
}

/** A sample is trusted over a later one with a longer round trip for this long. */
const SAMPLE_TTL_MS = 10_000;

export function createDbClock(local: () => number = localClockFromEnv()): DbClock {
  let offset = 0;
  // The midpoint of a short round trip is the better estimate: under load, answers queue.
  let best = { rtt: Infinity, at: -Infinity };
  const clock: DbClock = {
    now: () => new Date(local() + offset),
    local,
    offsetMs: () => offset,
    observe(dbTime, sentAt, receivedAt) {
      const t = dbTime.getTime();
      const rtt = Math.max(0, receivedAt - sentAt);
      if (!Number.isFinite(t) || (rtt > best.rtt && receivedAt - best.at < SAMPLE_TTL_MS)) return;
      offset = t - Math.round((sentAt + receivedAt) / 2);
      best = { rtt, at: receivedAt };
    },
    async sync(db) {
      const sentAt = local();
      const { rows } = await sql<{ now: Date | string }>`select clock_timestamp() as now`.execute(db);
      const receivedAt = local();
      if (rows[0]) clock.observe(new Date(rows[0].now), sentAt, receivedAt);
    },
  };
  return clock;
}
