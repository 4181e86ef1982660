/**
 * Gauges of the state Tessera keeps in Postgres and Redis, read at scrape time behind a short
 * cache (one snapshot statement and one count per queue and state, shared by every gauge of a
 * scrape and by scrapes within `cacheMs`). Postgres figures are the whole deployment's: every
 * process reports the same value, so dashboards take `max` over instances, never `sum`.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { QUEUES } from '../jobs/queues.js';
import { readOpsSnapshot, type OpsSnapshot } from '../persistence/ops-snapshot.js';
import type { Database } from '../persistence/schema.js';
import type { DatabaseHandle } from '../platform/database.js';
import type { JobQueue } from '../platform/job-queue.js';
import type { GaugeSample, Metrics } from '../platform/metrics.js';

export interface StateGaugeDeps {
  db: Kysely<Database>;
  database: DatabaseHandle;
  jobs: JobQueue;
  logger: Logger;
  /** How long a snapshot answers scrapes (default 5 s). */
  cacheMs?: number;
}

/** Caches an async read for `ms`; a failed read is not cached (the next scrape tries again). */
function cached<T>(ms: number, read: () => Promise<T>): () => Promise<T> {
  let value: { at: number; promise: Promise<T> } | undefined;
  return () => {
    const now = Date.now();
    if (!value || now - value.at > ms) {
      const promise = read();
      value = { at: now, promise };
      promise.catch(() => {
        if (value?.promise === promise) value = undefined;
      });
    }
    return value.promise;
  };
}

export function registerStateGauges(metrics: Metrics, deps: StateGaugeDeps): void {
  const cacheMs = deps.cacheMs ?? 5_000;
  // A failing database makes the gauges disappear from the scrape (NaN), not the scrape fail:
  // `tessera_up`-style readiness is what alerts on that.
  const snapshot = cached(cacheMs, () => readOpsSnapshot(deps.db));
  const field = (name: keyof OpsSnapshot) => async () => {
    try {
      return (await snapshot())[name];
    } catch (err) {
      deps.logger.debug({ err }, 'metrics: could not read the ops snapshot');
      return Number.NaN;
    }
  };
  metrics.gauge('tessera_webhook_dead_letters', 'Webhook deliveries dead-lettered and not replayed (saturates at 100000)', field('deadDeliveries'));
  metrics.gauge('tessera_webhook_pending_deliveries', 'Webhook deliveries not yet delivered (saturates at 100000)', field('pendingDeliveries'));
  metrics.gauge('tessera_webhook_oldest_pending_seconds', 'Age of the oldest pending webhook delivery, seconds', field('oldestPendingDeliverySeconds'));
  metrics.gaugeVec('tessera_inbox_rows', 'Inbound webhook rows waiting (received) or needing attention (failed), by status (saturates at 100000)', ['status'], async () => {
    try {
      const s = await snapshot();
      return [
        { labels: { status: 'received' }, value: s.inboxReceived },
        { labels: { status: 'failed' }, value: s.inboxFailed },
      ];
    } catch {
      return [];
    }
  });
  metrics.gauge('tessera_inbox_oldest_received_seconds', 'Age of the oldest inbound webhook row not yet applied, seconds', field('oldestInboxSeconds'));
  metrics.gauge('tessera_timers_pending', 'Timer rows pending (saturates at 100000)', field('pendingTimers'));
  metrics.gauge('tessera_timer_overdue_seconds', 'How far past due the most overdue pending timer is, seconds', field('overdueTimerSeconds'));

  const pool = deps.database.poolStats;
  if (pool) {
    metrics.gauge('tessera_db_pool_in_use', 'Database connections checked out of this process pool', () => {
      const s = pool();
      return s.total - s.idle;
    });
    metrics.gauge('tessera_db_pool_waiting', 'Callers of this process waiting for a database connection', () => pool().waiting);
    metrics.gauge('tessera_db_pool_total', 'Database connections open in this process pool', () => pool().total);
  }

  const counts = deps.jobs.counts?.bind(deps.jobs);
  if (counts) {
    const jobCounts = cached(cacheMs, async () => {
      const samples: GaugeSample[] = [];
      for (const queue of Object.values(QUEUES)) {
        for (const [state, value] of Object.entries(await counts(queue))) samples.push({ labels: { queue, state }, value });
      }
      return samples;
    });
    metrics.gaugeVec('tessera_jobs', 'Jobs per queue and state (Redis: waiting, active, delayed, prioritized, failed)', ['queue', 'state'], async () => {
      try {
        return await jobCounts();
      } catch (err) {
        deps.logger.debug({ err }, 'metrics: could not count jobs');
        return [];
      }
    });
  }
}
