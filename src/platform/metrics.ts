/**
 * The process's Prometheus metrics (prom-client 15, wired by hand: fastify-metrics needs Node 22).
 * One registry per process (per `createMetrics()` call: tests build their own), handed around in
 * the Core. Every name starts with `tessera_`; the Node runtime's own (event loop lag, heap, GC)
 * come from prom-client's default collectors (`nodejs_*`, `process_*`).
 *
 * Cheap to scrape by construction: events are counted where they happen (counters and
 * histograms cost nothing at scrape time); state that lives in Postgres or Redis is read by
 * `state-gauges.ts` with bounded, indexed queries behind a short cache.
 *
 * Other parts register their own gauges with `gauge(name, help, read)` — e.g. live streams:
 * `metrics.gauge('tessera_live_streams', 'Open server-sent event streams', () => streams.size)`.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds: from a fast command (1 ms) to a stuck one (10 s). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds late: on time (< 10 ms) to an outage's backlog (an hour). */
const LATENESS_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

export type CommandOutcome = 'ok' | 'refused' | 'replayed' | 'error';
export type LockPath = 'command' | 'timer_batch';
export type AttemptOutcome = 'delivered' | 'retry' | 'dead';

export interface GaugeSample {
  labels?: Record<string, string>;
  value: number;
}

export interface Metrics {
  readonly registry: Registry;
  readonly contentType: string;
  /** HTTP request duration by method, route pattern (never the raw URL: ids would explode the series) and status. */
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly commandDuration: Histogram<'command' | 'outcome'>;
  /** From asking for a case's row lock to holding it (with its load: the same round trip). */
  readonly lockWait: Histogram<'path'>;
  /** settled - due of each fired timer, by the database's clock, by kind (goal_deadline, fragment_delay). */
  readonly timerLateness: Histogram<'kind'>;
  readonly slaPoints: Counter<'template' | 'point'>;
  readonly webhookAttempts: Counter<'outcome'>;
  readonly erasures: Counter<'trigger'>;
  /** A gauge read at scrape time. `read` must be cheap (an in-memory figure or a cached one). */
  gauge(name: string, help: string, read: () => number | Promise<number>): void;
  /** A labelled gauge read at scrape time; every sample replaces the last scrape's. */
  gaugeVec(name: string, help: string, labelNames: readonly string[], read: () => GaugeSample[] | Promise<GaugeSample[]>): void;
  /** The exposition text. */
  render(): Promise<string>;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  const registers = [registry];
  const gauges = new Set<string>();

  return {
    registry,
    contentType: registry.contentType,
    httpDuration: new Histogram({
      name: 'tessera_http_request_duration_seconds',
      help: 'HTTP request duration by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    commandDuration: new Histogram({
      name: 'tessera_command_duration_seconds',
      help: 'Case command duration (transaction included) by command type and outcome (ok, refused, replayed, error)',
      labelNames: ['command', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    lockWait: new Histogram({
      name: 'tessera_case_lock_wait_seconds',
      help: 'Time to take the case row lock and load the case, by path (command, timer_batch)',
      labelNames: ['path'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    timerLateness: new Histogram({
      name: 'tessera_timer_lateness_seconds',
      help: 'Fired timer lateness: settled minus due, by the database clock, by timer kind',
      labelNames: ['kind'],
      buckets: LATENESS_BUCKETS,
      registers,
    }),
    slaPoints: new Counter({
      name: 'tessera_sla_points_total',
      help: 'SLA points fired on open goals, by template and point (at_risk, breached)',
      labelNames: ['template', 'point'],
      registers,
    }),
    webhookAttempts: new Counter({
      name: 'tessera_webhook_attempts_total',
      help: 'Outbound webhook attempts by outcome (delivered, retry, dead)',
      labelNames: ['outcome'],
      registers,
    }),
    erasures: new Counter({
      name: 'tessera_customer_erasures_total',
      help: 'Customer erasures completed, by trigger (request, retention)',
      labelNames: ['trigger'],
      registers,
    }),
    gauge(name, help, read) {
      if (gauges.has(name)) return;
      gauges.add(name);
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          this.set(await read());
        },
      });
    },
    gaugeVec(name, help, labelNames, read) {
      if (gauges.has(name)) return;
      gauges.add(name);
      new Gauge({
        name,
        help,
        labelNames: [...labelNames],
        registers,
        async collect() {
          const samples = await read();
          this.reset();
          for (const s of samples) this.set(s.labels ?? {}, s.value);
        },
      });
    },
    render: () => registry.metrics(),
  };
}
